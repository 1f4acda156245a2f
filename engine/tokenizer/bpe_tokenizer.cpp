#include "bpe_tokenizer.h"

#include <cstdio>
#include <queue>

#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "utf8.h"

namespace rs {
namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space marker

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string r;
    r.reserve(s.size());
    for (size_t pos = 0;;) {
        size_t hit = s.find(from, pos);
        r.append(s.substr(pos, hit - pos));
        if (hit == std::string_view::npos) return r;
        r.append(to);
        pos = hit + from.size();
    }
}

struct Symbol {
    int prev, next;
    const char* text;
    size_t n;
};

struct Bigram {
    int left, right;
    int rank;
    std::string text;
};
struct BigramGreater {
    // Lowest rank first; on ties the leftmost pair.
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

BpeTokenizer::BpeTokenizer(const GgufFile& f) {
    kind_ = Kind::Bpe;
    load_common(f);
    add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", false);
    add_eos_ = f.get_bool("tokenizer.ggml.add_eos_token", false);
    if (f.get_string("tokenizer.ggml.model", "") == "gemma4") {
        // As llama.cpp: the pre-tokenizer is implied by the model, and BOS is
        // always added.
        pre_ = "gemma4";
        byte_encode_ = false;
        escape_whitespace_ = true;
        add_bos_ = true;
    }
    pretok_ = std::make_unique<Pretokenizer>(pre_);
    if (pre_ == "llama3" || pre_ == "llama-v3" || pre_ == "llama-bpe")
        add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", true);

    const GgufValue& merges = f.get_array("tokenizer.ggml.merges");
    if (merges.elem_type != GgufType::String)
        throw Error(f.path() + ": tokenizer.ggml.merges is not an array of strings");
    ranks_.reserve(merges.items.size());
    for (size_t i = 0; i < merges.items.size(); ++i) {
        std::string_view m = merges.items[i].str;
        size_t sp = m.find(' ', 1);
        if (sp == std::string_view::npos)
            throw Error(f.path() + ": merge #" + std::to_string(i) + " has no space separator");
        ranks_.emplace(std::string(m), static_cast<int>(i));
    }

    // GPT-2's reversible mapping of bytes onto printable code points.
    int n = 0;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
        utf8::append(byte_to_unicode_[b], cp);
        unicode_to_byte_[cp] = static_cast<uint8_t>(b);
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        byte_ids_[b] = byte_encode_ ? -1 : find(buf);
    }
}

int BpeTokenizer::merge_rank(const std::string& left, const std::string& right) const {
    auto it = ranks_.find(left + " " + right);
    return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_raw(std::string_view text, bool, std::vector<TokenId>& out) const {
    std::string escaped;
    if (escape_whitespace_) {
        escaped = replace_all(text, " ", kSpace);
        text = escaped;
    }
    for (std::string_view w : pretok_->split(text)) {
        if (!byte_encode_) {
            // A run of newlines that is itself a token is taken whole.
            if (w.find_first_not_of('\n') == std::string_view::npos) {
                TokenId id = find(w);
                if (id >= 0) {
                    out.push_back(id);
                    continue;
                }
            }
            encode_word(std::string(w), out);
            continue;
        }
        std::string word;
        for (char c : w) word += byte_to_unicode_[static_cast<unsigned char>(c)];
        encode_word(word, out);
    }
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<TokenId>& out) const {
    if (pretok_->ignore_merges()) {
        TokenId id = find(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    std::vector<Symbol> syms;
    for (size_t off = 0; off < word.size();) {
        size_t n =
            std::min(word.size() - off, utf8::seq_len(static_cast<unsigned char>(word[off])));
        int idx = static_cast<int>(syms.size());
        syms.push_back({idx - 1, off + n == word.size() ? -1 : idx + 1, word.data() + off, n});
        off += n;
    }
    std::priority_queue<Bigram, std::vector<Bigram>, BigramGreater> queue;
    auto try_add = [&](int left, int right) {
        if (left == -1 || right == -1) return;
        std::string l(syms[left].text, syms[left].n), r(syms[right].text, syms[right].n);
        int rank = merge_rank(l, r);
        if (rank < 0) return;
        queue.push({left, right, rank, l + r});
    };
    for (size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));
    while (!queue.empty()) {
        Bigram bg = queue.top();
        queue.pop();
        Symbol& l = syms[bg.left];
        Symbol& r = syms[bg.right];
        if (l.n == 0 || r.n == 0) continue;
        if (std::string(l.text, l.n) + std::string(r.text, r.n) != bg.text) continue;  // stale
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = bg.left;
        try_add(l.prev, bg.left);
        try_add(bg.left, l.next);
    }
    for (const Symbol& s : syms) {
        if (s.n == 0) continue;
        std::string piece(s.text, s.n);
        TokenId id = find(piece);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        if (!byte_encode_) {
            push_byte_fallback(piece, out);
            continue;
        }
        // Not in the vocabulary: fall back to single bytes of the mapped text.
        for (char c : piece) {
            TokenId b = find(std::string(1, c));
            if (b >= 0) out.push_back(b);
        }
    }
}

void BpeTokenizer::push_byte_fallback(const std::string& piece, std::vector<TokenId>& out) const {
    for (char c : piece) {
        TokenId b = byte_ids_[static_cast<unsigned char>(c)];
        if (b >= 0) out.push_back(b);
    }
}

std::string BpeTokenizer::decode_bytes(const std::string& text) const {
    std::string s;
    for (size_t i = 0; i < text.size();) {
        size_t start = i;
        uint32_t cp = utf8::next(text, i);
        auto it = unicode_to_byte_.find(cp);
        if (it != unicode_to_byte_.end())
            s += static_cast<char>(it->second);
        else
            s.append(text, start, i - start);
    }
    return s;
}

std::string BpeTokenizer::token_to_piece(TokenId id, bool special) const {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& t = texts_[static_cast<size_t>(id)];
    switch (attrs_[static_cast<size_t>(id)]) {
        case TokenAttr::Normal:
            return byte_encode_ ? decode_bytes(t) : replace_all(t, kSpace, " ");
        case TokenAttr::UserDefined:
            return t;
        case TokenAttr::Control:
            return special ? t : std::string();
        case TokenAttr::Byte: {
            unsigned v = 0;
            if (!byte_encode_ && std::sscanf(t.c_str(), "<0x%02X>", &v) == 1)
                return std::string(1, static_cast<char>(v));
            return decode_bytes(t);
        }
        default:
            return {};
    }
}

}  // namespace rs
