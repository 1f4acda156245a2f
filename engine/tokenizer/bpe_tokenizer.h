// Byte-level BPE (tokenizer.ggml.model = "gpt2"): regex pre-tokenization,
// GPT-2's byte-to-unicode mapping, then merges by rank.
// Gemma 4 (tokenizer.ggml.model = "gemma4") is SentencePiece-style BPE on the
// same merge loop: spaces become U+2581, only newline runs are split off,
// merges work on raw UTF-8 characters and unknown pieces fall back to <0xXX>
// byte tokens.
#pragma once

#include <unordered_map>

#include "pretokenizer.h"
#include "reasonscope/tokenizer.h"

namespace rs {

class BpeTokenizer final : public Tokenizer {
  public:
    explicit BpeTokenizer(const GgufFile& f);
    std::vector<TokenId> encode(std::string_view text, bool add_special,
                                bool parse_special) const override {
        return encode_with_specials(text, add_special, parse_special);
    }
    std::string token_to_piece(TokenId id, bool special) const override;

  private:
    void encode_raw(std::string_view text, bool first_fragment,
                    std::vector<TokenId>& out) const override;
    void encode_word(const std::string& word, std::vector<TokenId>& out) const;
    int merge_rank(const std::string& left, const std::string& right) const;
    std::string decode_bytes(const std::string& text) const;
    void push_byte_fallback(const std::string& piece, std::vector<TokenId>& out) const;

    std::unique_ptr<Pretokenizer> pretok_;
    std::unordered_map<std::string, int> ranks_;  // "left right" -> rank
    std::string byte_to_unicode_[256];
    std::unordered_map<uint32_t, uint8_t> unicode_to_byte_;
    bool byte_encode_ = true;         // GPT-2 byte mapping (false: raw UTF-8)
    bool escape_whitespace_ = false;  // ' ' <-> U+2581
    TokenId byte_ids_[256] = {};      // <0xXX> tokens, when !byte_encode_
};

}  // namespace rs
