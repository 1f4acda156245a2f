#include <algorithm>

#include "bpe_tokenizer.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/tokenizer.h"
#include "spm_tokenizer.h"

namespace rs {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
    std::string model = f.get_string("tokenizer.ggml.model", "");
    if (model.empty()) throw Error(f.path() + ": no tokenizer (tokenizer.ggml.model missing)");
    if (model == "llama") return std::make_unique<SpmTokenizer>(f);
    if (model == "gpt2" || model == "gemma4") return std::make_unique<BpeTokenizer>(f);
    throw Error(f.path() + ": unsupported tokenizer model '" + model +
                "' (supported: llama, gpt2, gemma4)");
}

void Tokenizer::load_common(const GgufFile& f) {
    const GgufValue& toks = f.get_array("tokenizer.ggml.tokens");
    if (toks.elem_type != GgufType::String)
        throw Error(f.path() + ": tokenizer.ggml.tokens is not an array of strings");
    size_t n = toks.items.size();
    if (n == 0) throw Error(f.path() + ": tokenizer.ggml.tokens is empty");
    texts_.reserve(n);
    index_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        texts_.emplace_back(toks.items[i].str);
        // First occurrence wins, as in llama.cpp's map insertion.
        index_.emplace(texts_.back(), static_cast<TokenId>(i));
    }
    scores_.assign(n, 0.0f);
    if (const GgufValue* s = f.find("tokenizer.ggml.scores")) {
        if (s->type != GgufType::Array || s->items.size() != n ||
            (!s->items.empty() && !s->items[0].is_float()))
            throw Error(f.path() + ": tokenizer.ggml.scores does not match the token count");
        for (size_t i = 0; i < n; ++i) scores_[i] = static_cast<float>(s->items[i].as_double());
    }
    attrs_.assign(n, TokenAttr::Normal);
    if (const GgufValue* t = f.find("tokenizer.ggml.token_type")) {
        if (t->type != GgufType::Array || t->items.size() != n)
            throw Error(f.path() + ": tokenizer.ggml.token_type does not match the token count");
        for (size_t i = 0; i < n; ++i) {
            if (!t->items[i].is_integer())
                throw Error(f.path() + ": tokenizer.ggml.token_type holds a non-integer");
            int64_t v = t->items[i].as_int();
            attrs_[i] = (v >= 1 && v <= 6) ? static_cast<TokenAttr>(v) : TokenAttr::Normal;
        }
    }
    auto id_key = [&](const char* key, TokenId dflt) -> TokenId {
        int64_t v = f.get_int(key, dflt);
        if (v < -1 || v >= static_cast<int64_t>(n))
            throw Error(f.path() + ": " + key + " = " + std::to_string(v) +
                        " is outside the vocabulary");
        return static_cast<TokenId>(v);
    };
    bos_ = id_key("tokenizer.ggml.bos_token_id", -1);
    eos_ = id_key("tokenizer.ggml.eos_token_id", -1);
    eot_ = id_key("tokenizer.ggml.eot_token_id", -1);
    unk_ = id_key("tokenizer.ggml.unknown_token_id", -1);
    pre_ = f.get_string("tokenizer.ggml.pre", "default");

    for (size_t i = 0; i < n; ++i) {
        auto a = attrs_[i];
        if (a == TokenAttr::Control || a == TokenAttr::UserDefined || a == TokenAttr::Unknown)
            specials_.push_back(static_cast<TokenId>(i));
    }
    std::stable_sort(specials_.begin(), specials_.end(), [&](TokenId a, TokenId b) {
        return texts_[static_cast<size_t>(a)].size() > texts_[static_cast<size_t>(b)].size();
    });
}

TokenId Tokenizer::find(std::string_view text) const {
    auto it = index_.find(std::string(text));
    return it == index_.end() ? -1 : it->second;
}

bool Tokenizer::is_eog(TokenId id) const {
    return id >= 0 && (id == eos_ || id == eot_);
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool special) const {
    std::string s;
    for (TokenId id : ids) s += token_to_piece(id, special);
    return s;
}

std::vector<TokenId> Tokenizer::encode_with_specials(std::string_view text, bool add_special,
                                                     bool parse_special) const {
    // Fragments: either raw text or a special token id.
    struct Frag {
        TokenId id;  // -1 for raw text
        std::string_view text;
    };
    std::vector<Frag> frags;
    if (!text.empty()) frags.push_back({-1, text});
    for (TokenId sp : specials_) {
        auto a = attrs_[static_cast<size_t>(sp)];
        if (!parse_special && a != TokenAttr::UserDefined) continue;
        const std::string& st = texts_[static_cast<size_t>(sp)];
        if (st.empty()) continue;
        std::vector<Frag> next;
        for (const Frag& fr : frags) {
            if (fr.id >= 0) {
                next.push_back(fr);
                continue;
            }
            std::string_view rest = fr.text;
            size_t pos;
            while ((pos = rest.find(st)) != std::string_view::npos) {
                if (pos > 0) next.push_back({-1, rest.substr(0, pos)});
                next.push_back({sp, {}});
                rest.remove_prefix(pos + st.size());
            }
            if (!rest.empty()) next.push_back({-1, rest});
        }
        frags.swap(next);
    }

    std::vector<TokenId> out;
    if (add_special && add_bos_ && bos_ >= 0) out.push_back(bos_);
    bool prev_special = true;  // SPM adds its space prefix after a special or at the start
    for (const Frag& fr : frags) {
        if (fr.id >= 0) {
            out.push_back(fr.id);
            prev_special = true;
        } else {
            encode_raw(fr.text, prev_special, out);
            prev_special = false;
        }
    }
    if (add_special && add_eos_ && eos_ >= 0) out.push_back(eos_);
    return out;
}

}  // namespace rs
