// Final answers in free text: where a model states its answer (the last
// \boxed{...}, "the answer is X", "Answer: X", a suite's own pattern, or the
// last number of a finished trace) and the normal form answers are compared
// and grouped by (commas, trailing zeros, signs, fractions and \frac{a}{b},
// surrounding $ and markup, units, "x = ").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rs {

enum class AnswerFormat {
    Auto,        // boxed, else "the answer is", else "Answer:", else (finished) the last number
    Boxed,       // the last \boxed{...} (nested braces), \fbox{...}
    AnswerIs,    // "the (final) answer is X"
    AnswerLine,  // "Answer: X" to the end of its line
    LastNumber,  // the last number of a finished trace
    Regex,       // the task's pattern (PCRE2, first capture group), last match
};
const char* answer_format_name(AnswerFormat f);
// "auto", "boxed", "answer-is", "answer-line", "last-number", "regex";
// throws rs::Error listing them for anything else.
AnswerFormat parse_answer_format(const std::string& name);

struct AnswerRule {
    AnswerFormat format = AnswerFormat::Auto;
    std::string pattern;  // for Regex: one capture group (the whole match without one)
};

// The answer `text` states by the rule, as written (trimmed of markup), or
// nullopt. `finished`: the trace has ended, so a last number counts (Auto and
// LastNumber); a stated answer counts either way. Throws rs::Error for a
// pattern that does not compile or that exceeds its match limit (a pattern
// with catastrophic backtracking), naming the pattern.
std::optional<std::string> find_answer(std::string_view text, const AnswerRule& rule,
                                       bool finished);

// Pieces, for tests and other callers.
std::optional<std::string> last_boxed(std::string_view text);
std::optional<std::string> last_answer_is(std::string_view text);
std::optional<std::string> last_answer_line(std::string_view text);
std::optional<std::string> last_number(std::string_view text);
// Throws rs::Error when the pattern is invalid or hits the match limit.
std::optional<std::string> last_regex_match(std::string_view text, const std::string& pattern);
// Throws rs::Error naming the pattern and PCRE2's message when it does not compile.
void check_answer_pattern(const std::string& pattern);

// The normal form: numbers canonical ("1,000" -> "1000", "3.50" -> "3.5",
// "+2" -> "2", "\frac{6}{4}" and "3/2" -> "1.5", "1/3" stays "1/3", "18
// dollars" -> "18", "$5$" -> "5", "x = 4" -> "4"), other answers with markup,
// spaces and case of plain words removed. Empty for an empty answer.
std::string normalize_answer(const std::string& a);
// Equal normal forms, or numbers equal within 1e-9 relative.
bool answers_equal(const std::string& a, const std::string& b);

}  // namespace rs
