// Byte-level BPE (tokenizer.ggml.model = "gpt2"): regex pre-tokenization,
// GPT-2's byte-to-unicode mapping, then merges by rank.
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

    std::unique_ptr<Pretokenizer> pretok_;
    std::unordered_map<std::string, int> ranks_;  // "left right" -> rank
    std::string byte_to_unicode_[256];
    std::unordered_map<uint32_t, uint8_t> unicode_to_byte_;
};

}  // namespace rs
