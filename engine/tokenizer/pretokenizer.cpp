#define PCRE2_CODE_UNIT_WIDTH 8
#include "pretokenizer.h"

#include <pcre2.h>

#include "reasonscope/error.h"

namespace rs {
namespace {

// The patterns llama.cpp uses for each tokenizer.ggml.pre value.
const char* kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Qwen 3.5: qwen2's shape, with combining marks (\p{M}) kept inside words and
// out of the punctuation runs.
const char* kQwen35 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// Code points that Unicode normalisation would fold are written as \x{...}.
const char* kDeepseekLetters =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-"
    "ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-"
    "ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}"
    "ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-"
    "ꞇꞋ-"
    "ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]"
    "+";

}  // namespace

std::vector<std::string> Pretokenizer::patterns_for(const std::string& pre) {
    if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" ||
        pre == "dbrx" || pre == "smaug-bpe" || pre == "chatglm-bpe")
        return {kLlama3};
    if (pre == "qwen2" || pre == "stablelm2" || pre == "deepseek-r1-qwen" || pre == "megrez")
        return {kQwen2};
    if (pre == "qwen35") return {kQwen35};
    // Gemma 4 (SentencePiece-style BPE on escaped spaces): only newline runs
    // are split off; see BpeTokenizer.
    if (pre == "gemma4") return {"[^\\n]+|[\\n]+"};
    if (pre == "deepseek-llm")
        return {"[\r\n]", kDeepseekLetters,           "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
                "\\s+$",  "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"};
    if (pre == "deepseek-coder")
        return {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"};
    if (pre == "gpt-2" || pre == "mpt" || pre == "olmo" || pre == "jais" || pre == "phi-2" ||
        pre == "roberta-bpe" || pre == "gigachat")
        return {kGpt2};
    if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" ||
        pre == "codeshell" || pre == "exaone" || pre == "minerva-7b")
        return {"\\p{N}", kGpt2};
    if (pre == "falcon") return {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"};
    if (pre == "poro-chat" || pre == "bloom" || pre == "gpt3-finnish")
        return {" ?[^(\\s|.,!?…。，、।۔،)]+"};
    if (pre == "viking") return {" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"};
    if (pre == "default") return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
    return {};
}

struct Pretokenizer::Regex {
    pcre2_code* code = nullptr;
    ~Regex() {
        if (code) pcre2_code_free(code);
    }
};

Pretokenizer::Pretokenizer(const std::string& pre) {
    auto pats = patterns_for(pre);
    if (pats.empty()) throw Error("unsupported BPE pre-tokenizer '" + pre + "'");
    ignore_merges_ = pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
    for (const auto& p : pats) {
        int err = 0;
        PCRE2_SIZE erroff = 0;
        auto r = std::make_unique<Regex>();
        r->code =
            pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.c_str()), p.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF,
                          &err, &erroff, nullptr);
        if (!r->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw Error("pre-tokenizer '" + pre + "': bad pattern at " + std::to_string(erroff) +
                        ": " + reinterpret_cast<char*>(msg));
        }
        pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
        regexes_.push_back(std::move(r));
    }
}

Pretokenizer::~Pretokenizer() = default;

std::vector<std::string_view> Pretokenizer::split(std::string_view text) const {
    std::vector<std::string_view> frags;
    if (!text.empty()) frags.push_back(text);
    for (const auto& re : regexes_) {
        std::vector<std::string_view> next;
        pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
        for (std::string_view fr : frags) {
            auto subject = reinterpret_cast<PCRE2_SPTR>(fr.data());
            size_t pos = 0, last = 0;
            while (pos <= fr.size()) {
                int rc = pcre2_match(re->code, subject, fr.size(), pos, 0, md, nullptr);
                if (rc < 0) break;
                PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                size_t s = ov[0], e = ov[1];
                if (e == s) {  // empty match: step one character and retry
                    pos = s + 1;
                    while (pos < fr.size() && (static_cast<unsigned char>(fr[pos]) & 0xC0) == 0x80)
                        ++pos;
                    continue;
                }
                if (s > last) next.push_back(fr.substr(last, s - last));
                next.push_back(fr.substr(s, e - s));
                last = pos = e;
            }
            if (last < fr.size()) next.push_back(fr.substr(last));
        }
        pcre2_match_data_free(md);
        frags.swap(next);
    }
    return frags;
}

}  // namespace rs
