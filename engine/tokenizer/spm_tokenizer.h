// SentencePiece-style tokenizer (tokenizer.ggml.model = "llama"): greedy
// merging of adjacent pieces by vocabulary score, byte fallback for pieces
// that are not in the vocabulary.
#pragma once

#include "reasonscope/tokenizer.h"

namespace rs {

class SpmTokenizer final : public Tokenizer {
  public:
    explicit SpmTokenizer(const GgufFile& f);
    std::vector<TokenId> encode(std::string_view text, bool add_special,
                                bool parse_special) const override {
        return encode_with_specials(text, add_special, parse_special);
    }
    std::string token_to_piece(TokenId id, bool special) const override;

  private:
    void encode_raw(std::string_view text, bool first_fragment,
                    std::vector<TokenId>& out) const override;
    TokenId byte_token(uint8_t b) const;

    bool add_space_prefix_ = true;
    TokenId byte_ids_[256];
};

}  // namespace rs
