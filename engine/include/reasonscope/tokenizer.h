// Tokenizers built from GGUF metadata (tokenizer.ggml.*): SentencePiece-style
// ("llama") with byte fallback, and byte-level BPE ("gpt2") with the
// pre-tokenizer named by tokenizer.ggml.pre. Output matches llama.cpp's.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rs {

class GgufFile;
using TokenId = int32_t;

enum class TokenAttr : uint8_t {
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

class Tokenizer {
  public:
    enum class Kind { Spm, Bpe };
    virtual ~Tokenizer() = default;

    // Throws rs::Error when the metadata is missing, inconsistent or names an
    // unsupported model or pre-tokenizer.
    static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& f);

    // add_special: prepend BOS (and EOS) as the model's metadata asks.
    // parse_special: recognise control tokens written in the text ("<s>").
    // User-defined tokens are always recognised.
    virtual std::vector<TokenId> encode(std::string_view text, bool add_special = false,
                                        bool parse_special = false) const = 0;
    // The bytes a token stands for (byte tokens give their byte, SPM's space
    // marker becomes a space). Control tokens give "" unless `special`.
    virtual std::string token_to_piece(TokenId id, bool special = false) const = 0;
    std::string decode(std::span<const TokenId> ids, bool special = false) const;

    Kind kind() const { return kind_; }
    const std::string& pre() const { return pre_; }
    int32_t n_vocab() const { return static_cast<int32_t>(texts_.size()); }
    const std::string& token_text(TokenId id) const { return texts_.at(static_cast<size_t>(id)); }
    TokenAttr token_attr(TokenId id) const { return attrs_.at(static_cast<size_t>(id)); }
    TokenId find(std::string_view text) const;  // -1 if absent
    TokenId bos() const { return bos_; }
    TokenId eos() const { return eos_; }
    bool add_bos() const { return add_bos_; }
    bool is_eog(TokenId id) const;  // end of generation (EOS, EOT)

  protected:
    void load_common(const GgufFile& f);
    // Splits text around special tokens; raw pieces go to encode_raw.
    std::vector<TokenId> encode_with_specials(std::string_view text, bool add_special,
                                              bool parse_special) const;
    virtual void encode_raw(std::string_view text, bool first_fragment,
                            std::vector<TokenId>& out) const = 0;

    Kind kind_ = Kind::Spm;
    std::string pre_;
    std::vector<std::string> texts_;
    std::vector<float> scores_;
    std::vector<TokenAttr> attrs_;
    std::unordered_map<std::string, TokenId> index_;
    std::vector<TokenId> specials_;  // control/user-defined/unknown, longest first
    TokenId bos_ = -1, eos_ = -1, eot_ = -1, unk_ = -1;
    bool add_bos_ = false, add_eos_ = false;
};

}  // namespace rs
