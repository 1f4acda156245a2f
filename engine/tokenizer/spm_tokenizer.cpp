#include "spm_tokenizer.h"

#include <cstdio>
#include <map>
#include <queue>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "utf8.h"

namespace rs {
namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space marker

struct Symbol {
    int prev, next;
    const char* text;
    size_t n;
};

struct Bigram {
    int left, right;
    float score;
    size_t size;
};
struct BigramLess {
    // Highest score first; on ties the leftmost pair.
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

SpmTokenizer::SpmTokenizer(const GgufFile& f) {
    kind_ = Kind::Spm;
    load_common(f);
    add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", true);
    add_eos_ = f.get_bool("tokenizer.ggml.add_eos_token", false);
    add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix", true);
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        TokenId id = find(buf);
        if (id < 0) id = find(std::string(1, static_cast<char>(b)));
        byte_ids_[b] = id;
    }
}

TokenId SpmTokenizer::byte_token(uint8_t b) const {
    return byte_ids_[b] >= 0 ? byte_ids_[b] : unk_;
}

void SpmTokenizer::encode_raw(std::string_view raw, bool first_fragment,
                              std::vector<TokenId>& out) const {
    std::string text;
    if (add_space_prefix_ && first_fragment) text = " ";
    text.append(raw);
    std::string esc;
    esc.reserve(text.size() * 2);
    for (char c : text) {
        if (c == ' ')
            esc += kSpace;
        else
            esc += c;
    }

    std::vector<Symbol> syms;
    for (size_t off = 0; off < esc.size();) {
        size_t n = std::min(esc.size() - off, utf8::seq_len(static_cast<unsigned char>(esc[off])));
        int idx = static_cast<int>(syms.size());
        syms.push_back({idx - 1, off + n == esc.size() ? -1 : idx + 1, esc.data() + off, n});
        off += n;
    }

    std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
    std::map<std::string, std::pair<int, int>> rev_merge;
    auto try_add = [&](int left, int right) {
        if (left == -1 || right == -1) return;
        std::string s(syms[left].text, syms[left].n + syms[right].n);
        TokenId id = find(s);
        if (id < 0) return;
        queue.push({left, right, scores_[static_cast<size_t>(id)], s.size()});
        rev_merge[s] = {left, right};
    };
    for (size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

    while (!queue.empty()) {
        Bigram bg = queue.top();
        queue.pop();
        Symbol& l = syms[bg.left];
        Symbol& r = syms[bg.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size) continue;  // stale
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = bg.left;
        try_add(l.prev, bg.left);
        try_add(bg.left, l.next);
    }

    // Pieces not in the vocabulary are split back along their merges, down
    // to bytes if need be.
    auto resegment = [&](auto& self, const Symbol& s) -> void {
        std::string piece(s.text, s.n);
        TokenId id = find(piece);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
        auto it = rev_merge.find(piece);
        if (it == rev_merge.end()) {
            for (size_t j = 0; j < s.n; ++j)
                out.push_back(byte_token(static_cast<uint8_t>(s.text[j])));
            return;
        }
        self(self, syms[it->second.first]);
        self(self, syms[it->second.second]);
    };
    if (syms.empty()) return;
    for (int i = 0; i != -1; i = syms[i].next) resegment(resegment, syms[i]);
}

std::string SpmTokenizer::token_to_piece(TokenId id, bool special) const {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& t = texts_[static_cast<size_t>(id)];
    switch (attrs_[static_cast<size_t>(id)]) {
        case TokenAttr::Normal: {
            std::string s;
            for (size_t i = 0; i < t.size();) {
                if (t.compare(i, kSpace.size(), kSpace) == 0) {
                    s += ' ';
                    i += kSpace.size();
                } else {
                    s += t[i++];
                }
            }
            return s;
        }
        case TokenAttr::Unknown:
            return "\xe2\x96\x85";
        case TokenAttr::Byte: {
            unsigned v = 0;
            if (std::sscanf(t.c_str(), "<0x%02X>", &v) == 1)
                return std::string(1, static_cast<char>(v));
            return t;
        }
        case TokenAttr::UserDefined:
            return t;
        case TokenAttr::Control:
            return special ? t : std::string();
        case TokenAttr::Unused:
            return {};
    }
    return {};
}

}  // namespace rs
