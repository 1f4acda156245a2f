// Regex pre-tokenization for byte-level BPE: a list of patterns applied in
// turn, each splitting every fragment further (matches and the text between
// them both become fragments), as llama.cpp's unicode_regex_split does.
// Patterns are PCRE2 with UTF and Unicode properties, JIT-compiled.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

class Pretokenizer {
  public:
    // Throws rs::Error for an unknown `pre` name.
    explicit Pretokenizer(const std::string& pre);
    ~Pretokenizer();
    std::vector<std::string_view> split(std::string_view text) const;
    // Patterns for a pre-tokenizer name; empty if unknown.
    static std::vector<std::string> patterns_for(const std::string& pre);
    bool ignore_merges() const { return ignore_merges_; }

  private:
    struct Regex;
    std::vector<std::unique_ptr<Regex>> regexes_;
    bool ignore_merges_ = false;
};

}  // namespace rs
