#include "reasonscope/answer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <vector>

#include "reasonscope/error.h"

namespace rs {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && is_space(s[b])) ++b;
    while (e > b && is_space(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}
bool ends_with(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    if (from.empty()) return;
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
}

// The brace group starting at s[open] == '{': its content, or nullopt when
// it does not close.
std::optional<std::string> brace_group(std::string_view s, size_t open, size_t* end = nullptr) {
    if (open >= s.size() || s[open] != '{') return std::nullopt;
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {  // \{ and \} do not count
            ++i;
            continue;
        }
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) {
            if (end) *end = i + 1;
            return std::string(s.substr(open + 1, i - open - 1));
        }
    }
    return std::nullopt;
}

// Markup around a stated answer: $...$, \(...\), \[...\], **...**, a
// trailing full stop, surrounding spaces.
std::string strip_markup(std::string s) {
    for (bool changed = true; changed;) {
        changed = false;
        std::string t = trim(s);
        if (t != s) s = t, changed = true;
        for (auto [o, c] : {std::pair<std::string_view, std::string_view>{"$$", "$$"},
                            {"$", "$"},
                            {"\\(", "\\)"},
                            {"\\[", "\\]"},
                            {"**", "**"},
                            {"*", "*"},
                            {"`", "`"}}) {
            if (s.size() >= o.size() + c.size() && starts_with(s, o) && ends_with(s, c)) {
                s = s.substr(o.size(), s.size() - o.size() - c.size());
                changed = true;
                break;
            }
        }
        // Leading "**" left by "**Answer:** 42" and a trailing "." or "**".
        for (std::string_view p : {"**", ":"})
            if (starts_with(s, p)) s.erase(0, p.size()), changed = true;
        while (!s.empty() && (s.back() == '.' || ends_with(s, "**"))) {
            // Keep "3." only as part of a number like "3.5" (nothing follows here).
            s.erase(s.size() - (s.back() == '.' ? 1 : 2));
            changed = true;
        }
    }
    return s;
}

// Case-insensitive search for `needle` (lower case) from `from`.
size_t ifind(std::string_view hay, std::string_view needle, size_t from = 0) {
    if (needle.empty() || hay.size() < needle.size()) return std::string_view::npos;
    for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
        size_t k = 0;
        while (k < needle.size() &&
               std::tolower(static_cast<unsigned char>(hay[i + k])) == needle[k])
            ++k;
        if (k == needle.size()) return i;
    }
    return std::string_view::npos;
}

// The answer text after a marker: up to the end of the line, or a sentence
// end (". " or "." at the end; a decimal point does not end it).
std::string answer_after(std::string_view text, size_t pos) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string_view s = text.substr(pos, e - pos);
    // A boxed answer inside the sentence wins.
    if (auto b = last_boxed(s)) return *b;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.' && (i + 1 == s.size() || is_space(s[i + 1])) &&
            !(i > 0 && is_digit(s[i - 1]) && i + 1 < s.size() && is_digit(s[i + 1]))) {
            s = s.substr(0, i);
            break;
        }
    }
    return strip_markup(std::string(s));
}

// --- PCRE2 patterns, compiled once, matched with a bound on backtracking.

struct Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() {
        if (code) pcre2_code_free(code);
    }
};

std::shared_ptr<Compiled> compile(const std::string& pattern) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<Compiled>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(pattern);
    if (it != cache.end()) return it->second;
    int err = 0;
    PCRE2_SIZE off = 0;
    auto c = std::make_shared<Compiled>();
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
    if (!c->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw Error("answer pattern '" + pattern + "' does not compile at offset " +
                    std::to_string(off) + ": " + reinterpret_cast<const char*>(msg));
    }
    if (cache.size() > 256) cache.clear();
    cache.emplace(pattern, c);
    return c;
}

// Numbers: [sign] digits [, ddd]* [. digits] [/ digits], or [sign] . digits.
struct NumberSpan {
    size_t begin, end;
};
std::vector<NumberSpan> numbers_in(std::string_view s) {
    std::vector<NumberSpan> out;
    size_t i = 0;
    while (i < s.size()) {
        const bool lead_dot = s[i] == '.' && i + 1 < s.size() && is_digit(s[i + 1]);
        if (!is_digit(s[i]) && !lead_dot) {
            ++i;
            continue;
        }
        // A digit inside a word ("x2", "H2O") is not a number.
        if (i > 0 && (is_alpha(s[i - 1]) || s[i - 1] == '_')) {
            while (i < s.size() && (is_digit(s[i]) || is_alpha(s[i]))) ++i;
            continue;
        }
        size_t b = i;
        if (b > 0 && (s[b - 1] == '-' || s[b - 1] == '+') &&
            (b == 1 || !(is_digit(s[b - 2]) || is_alpha(s[b - 2]) || s[b - 2] == ')')))
            --b;
        size_t e = i;
        while (e < s.size() && is_digit(s[e])) ++e;
        // Thousands groups: ",ddd" not followed by another digit.
        while (e + 3 < s.size() && s[e] == ',' && is_digit(s[e + 1]) && is_digit(s[e + 2]) &&
               is_digit(s[e + 3]) && (e + 4 >= s.size() || !is_digit(s[e + 4])))
            e += 4;
        if (e + 1 < s.size() && s[e] == '.' && is_digit(s[e + 1])) {
            ++e;
            while (e < s.size() && is_digit(s[e])) ++e;
        }
        if (e + 1 < s.size() && s[e] == '/' && is_digit(s[e + 1])) {
            ++e;
            while (e < s.size() && is_digit(s[e])) ++e;
        }
        out.push_back({b, e});
        i = e;
    }
    return out;
}

struct Rational {
    bool ok = false;
    bool exact = false;  // num/den exact (from integers and fractions)
    long double value = 0;
    int64_t num = 0, den = 1;
};

// "12", "-3.50", "+1,000", "3/4", ".5"; nothing else.
Rational parse_plain_number(std::string_view s) {
    Rational r;
    if (s.empty()) return r;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
    std::string digits, frac;
    size_t j = i;
    while (j < s.size() && (is_digit(s[j]) || s[j] == ',')) ++j;
    std::string_view intpart = s.substr(i, j - i);
    // Commas only as thousands separators.
    if (!intpart.empty()) {
        if (intpart.front() == ',' || intpart.back() == ',') return r;
        size_t last = std::string_view::npos;
        for (size_t k = 0; k < intpart.size(); ++k)
            if (intpart[k] == ',') {
                if (last != std::string_view::npos && k - last != 4) return r;
                if (last == std::string_view::npos && (k == 0 || k > 3)) return r;
                last = k;
            }
        if (last != std::string_view::npos && intpart.size() - last != 4) return r;
        for (char c : intpart)
            if (c != ',') digits += c;
    }
    if (j < s.size() && s[j] == '.') {
        ++j;
        while (j < s.size() && is_digit(s[j])) frac += s[j++];
        if (frac.empty() && digits.empty()) return r;
    }
    if (digits.empty() && frac.empty()) return r;
    if (j < s.size() && s[j] == '/' && frac.empty()) {
        std::string den;
        ++j;
        while (j < s.size() && is_digit(s[j])) den += s[j++];
        if (den.empty() || j != s.size() || digits.size() > 18 || den.size() > 18) return r;
        r.num = std::stoll(digits);
        r.den = std::stoll(den);
        if (r.den == 0) return Rational{};
        r.exact = true;
        if (neg) r.num = -r.num;
        r.value = static_cast<long double>(r.num) / static_cast<long double>(r.den);
        r.ok = true;
        return r;
    }
    if (j != s.size()) return r;
    std::string text = (digits.empty() ? "0" : digits) + (frac.empty() ? "" : "." + frac);
    r.value = std::strtold(text.c_str(), nullptr);
    if (neg) r.value = -r.value;
    if (frac.empty() && digits.size() <= 18) {
        r.exact = true;
        r.num = std::stoll(digits);
        if (neg) r.num = -r.num;
    } else if (digits.size() + frac.size() <= 18) {
        r.exact = true;
        r.num = std::stoll(digits + frac);
        if (neg) r.num = -r.num;
        r.den = 1;
        for (size_t k = 0; k < frac.size(); ++k) r.den *= 10;
    }
    r.ok = std::isfinite(static_cast<double>(r.value));
    return r;
}

// \frac{a}{b}, \frac ab, -\frac{a}{b} with plain numbers a and b.
Rational parse_latex_fraction(std::string_view s) {
    Rational r;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', s.remove_prefix(1);
    if (!starts_with(s, "\\frac")) return r;
    s.remove_prefix(5);
    while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
    std::string a, b;
    size_t end = 0;
    if (!s.empty() && s[0] == '{') {
        auto g = brace_group(s, 0, &end);
        if (!g) return r;
        a = trim(*g);
        s.remove_prefix(end);
    } else if (!s.empty() && is_digit(s[0])) {
        a = s.substr(0, 1);
        s.remove_prefix(1);
    } else
        return r;
    while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
    if (!s.empty() && s[0] == '{') {
        auto g = brace_group(s, 0, &end);
        if (!g) return r;
        b = trim(*g);
        s.remove_prefix(end);
    } else if (!s.empty() && is_digit(s[0])) {
        b = s.substr(0, 1);
        s.remove_prefix(1);
    } else
        return r;
    if (!trim(s).empty()) return r;
    Rational x = parse_plain_number(a), y = parse_plain_number(b);
    if (!x.ok || !y.ok || y.value == 0) return r;
    r.ok = true;
    r.value = x.value / y.value * (neg ? -1 : 1);
    if (x.exact && y.exact) {
        // (xn/xd) / (yn/yd)
        __int128 n = static_cast<__int128>(x.num) * y.den, d = static_cast<__int128>(x.den) * y.num;
        if (d < 0) n = -n, d = -d;
        if (n <= INT64_MAX && n >= -INT64_MAX && d <= INT64_MAX) {
            r.exact = true;
            r.num = static_cast<int64_t>(n) * (neg ? -1 : 1);
            r.den = static_cast<int64_t>(d);
        }
    }
    return r;
}

std::string canonical(const Rational& r) {
    if (r.exact) {
        int64_t n = r.num, d = r.den;
        const int64_t g = std::gcd(n < 0 ? -n : n, d);
        if (g > 1) n /= g, d /= g;
        if (d == 1) return std::to_string(n);
        int64_t m = d;
        while (m % 2 == 0) m /= 2;
        while (m % 5 == 0) m /= 5;
        if (m != 1) return std::to_string(n) + "/" + std::to_string(d);
    }
    const long double v = r.value;
    if (v == std::floor(v) && std::fabs(v) < 1e18L) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.0Lf", v);
        return std::string(buf) == "-0" ? "0" : buf;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15Lg", v);
    return buf;
}

// Removes LaTeX spacing and wrappers that do not change an answer.
std::string strip_latex(std::string s) {
    for (std::string_view cmd :
         {"\\text", "\\textbf", "\\mathrm", "\\mathbf", "\\mbox", "\\boxed"}) {
        for (size_t p = s.find(cmd); p != std::string::npos; p = s.find(cmd, p)) {
            size_t q = p + cmd.size();
            if (q < s.size() && is_alpha(s[q])) {  // \textit is not \text
                p = q;
                continue;
            }
            while (q < s.size() && s[q] == ' ') ++q;
            size_t end = 0;
            auto g = brace_group(s, q, &end);
            if (!g) {
                p = q;
                continue;
            }
            s.replace(p, end - p, *g);
        }
    }
    for (std::string_view junk : {"\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\displaystyle",
                                  "^{\\circ}", "^\\circ", "\\circ", "\xc2\xb0", "\\%", "\\$"})
        replace_all(s, junk, "");
    replace_all(s, "\\dfrac", "\\frac");
    replace_all(s, "\\tfrac", "\\frac");
    replace_all(s, "\\ ", " ");
    return s;
}

}  // namespace

const char* answer_format_name(AnswerFormat f) {
    switch (f) {
        case AnswerFormat::Auto:
            return "auto";
        case AnswerFormat::Boxed:
            return "boxed";
        case AnswerFormat::AnswerIs:
            return "answer-is";
        case AnswerFormat::AnswerLine:
            return "answer-line";
        case AnswerFormat::LastNumber:
            return "last-number";
        case AnswerFormat::Regex:
            return "regex";
    }
    return "auto";
}

AnswerFormat parse_answer_format(const std::string& name) {
    for (AnswerFormat f : {AnswerFormat::Auto, AnswerFormat::Boxed, AnswerFormat::AnswerIs,
                           AnswerFormat::AnswerLine, AnswerFormat::LastNumber, AnswerFormat::Regex})
        if (name == answer_format_name(f)) return f;
    throw Error("unknown answer format '" + name +
                "' (known: auto, boxed, answer-is, answer-line, last-number, regex)");
}

std::optional<std::string> last_boxed(std::string_view text) {
    std::optional<std::string> found;
    size_t found_at = 0;
    for (std::string_view cmd : {"\\boxed", "\\fbox"}) {
        for (size_t p = text.find(cmd); p != std::string_view::npos;
             p = text.find(cmd, p + cmd.size())) {
            if (found && p < found_at) continue;
            size_t q = p + cmd.size();
            while (q < text.size() && text[q] == ' ') ++q;
            if (q < text.size() && text[q] == '{') {
                if (auto g = brace_group(text, q)) found = trim(*g), found_at = p;
            } else if (q > p + cmd.size() && q < text.size()) {  // "\boxed 5"
                size_t e = q;
                while (e < text.size() && !is_space(text[e]) && text[e] != '$') ++e;
                if (e > q) found = std::string(text.substr(q, e - q)), found_at = p;
            }
        }
    }
    return found;
}

std::optional<std::string> last_answer_is(std::string_view text) {
    std::optional<std::string> out;
    for (size_t p = ifind(text, "answer is"); p != std::string_view::npos;
         p = ifind(text, "answer is", p + 1)) {
        size_t q = p + 9;
        while (q < text.size() && (text[q] == ' ' || text[q] == ':')) ++q;
        std::string a = answer_after(text, q);
        if (!a.empty()) out = a;
    }
    return out;
}

std::optional<std::string> last_answer_line(std::string_view text) {
    std::optional<std::string> out;
    for (size_t p = ifind(text, "answer"); p != std::string_view::npos;
         p = ifind(text, "answer", p + 1)) {
        size_t q = p + 6;
        while (q < text.size() && text[q] == '*') ++q;  // **Answer**: and **Answer:**
        if (q >= text.size() || text[q] != ':') continue;
        // A word ending in "answer" ("reanswer:") does not count.
        if (p > 0 && is_alpha(text[p - 1])) continue;
        std::string a = answer_after(text, q + 1);
        if (!a.empty()) out = a;
    }
    return out;
}

std::optional<std::string> last_number(std::string_view text) {
    auto nums = numbers_in(text);
    if (nums.empty()) return std::nullopt;
    // A \frac{a}{b} that ends the text counts as one number.
    const NumberSpan n = nums.back();
    std::string s(text.substr(n.begin, n.end - n.begin));
    size_t fr = text.rfind("\\frac");
    if (fr != std::string_view::npos && fr < n.begin) {
        std::string_view tail = text.substr(fr);
        size_t e1 = 0, e2 = 0;
        size_t q = 5;
        if (brace_group(tail, q, &e1) && brace_group(tail, e1, &e2) && fr + e2 >= n.end)
            return std::string(tail.substr(0, e2));
    }
    return s;
}

void check_answer_pattern(const std::string& pattern) {
    (void)compile(pattern);
}

std::optional<std::string> last_regex_match(std::string_view text, const std::string& pattern) {
    auto c = compile(pattern);
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
        pcre2_match_data_create_from_pattern(c->code, nullptr), &pcre2_match_data_free);
    std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> mc(
        pcre2_match_context_create(nullptr), &pcre2_match_context_free);
    // Bounded backtracking: a pattern like (a+)+$ fails with a clear error
    // instead of running for ever.
    pcre2_set_match_limit(mc.get(), 1'000'000);
    pcre2_set_depth_limit(mc.get(), 10'000);
    std::optional<std::string> out;
    PCRE2_SIZE start = 0;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    while (start <= text.size()) {
        const int rc = pcre2_match(c->code, subject, text.size(), start, 0, md.get(), mc.get());
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
            throw Error("answer pattern '" + pattern +
                        "' exceeded its match limit (catastrophic backtracking?) on a " +
                        std::to_string(text.size()) + "-byte text");
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            throw Error("answer pattern '" + pattern +
                        "': match failed: " + reinterpret_cast<const char*>(msg));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
        const int group = rc > 1 && ov[2] != PCRE2_UNSET ? 1 : 0;
        out = std::string(text.substr(ov[2 * group], ov[2 * group + 1] - ov[2 * group]));
        start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    return out;
}

std::optional<std::string> find_answer(std::string_view text, const AnswerRule& rule,
                                       bool finished) {
    auto clean = [](std::optional<std::string> a) -> std::optional<std::string> {
        if (!a) return a;
        std::string s = strip_markup(*a);
        // An answer says something: a letter, a digit or any non-ASCII
        // character (not "(((", not "...").
        const bool says = std::any_of(s.begin(), s.end(), [](char c) {
            return is_alpha(c) || is_digit(c) || static_cast<unsigned char>(c) >= 0x80;
        });
        if (!says) return std::nullopt;
        return s;
    };
    switch (rule.format) {
        case AnswerFormat::Boxed:
            return clean(last_boxed(text));
        case AnswerFormat::AnswerIs:
            return clean(last_answer_is(text));
        case AnswerFormat::AnswerLine:
            return clean(last_answer_line(text));
        case AnswerFormat::LastNumber:
            return finished ? clean(last_number(text)) : std::nullopt;
        case AnswerFormat::Regex:
            return clean(last_regex_match(text, rule.pattern));
        case AnswerFormat::Auto:
            if (auto a = clean(last_boxed(text))) return a;
            if (auto a = clean(last_answer_is(text))) return a;
            if (auto a = clean(last_answer_line(text))) return a;
            return finished ? clean(last_number(text)) : std::nullopt;
    }
    return std::nullopt;
}

std::string normalize_answer(const std::string& a) {
    std::string s = strip_latex(strip_markup(a));
    s = strip_markup(s);
    // "x = 4", "n=4": a single variable named before the value.
    if (s.size() > 2 && is_alpha(s[0])) {
        size_t q = 1;
        while (q < s.size() && s[q] == ' ') ++q;
        if (q < s.size() && s[q] == '=' && (q + 1 >= s.size() || s[q + 1] != '='))
            s = trim(s.substr(q + 1));
    }
    if (s.empty()) return {};
    // A number, possibly with "$", "%" or a unit of up to three words.
    {
        std::string t = s;
        if (!t.empty() && t[0] == '$') t.erase(0, 1);
        std::string num = t, rest;
        auto spans = numbers_in(t);
        if (!spans.empty() && spans[0].begin == 0) {
            num = t.substr(0, spans[0].end);
            rest = trim(t.substr(spans[0].end));
        }
        if (!rest.empty() && rest[0] == '%') rest = trim(rest.substr(1));
        bool unit = true;
        int words = 0;
        for (size_t i = 0; i < rest.size(); ++i) {
            const char c = rest[i];
            if (is_space(c)) continue;
            if (i == 0 || is_space(rest[i - 1])) ++words;
            if (!(is_alpha(c) || c == '.' || c == '^' || c == '/' || is_digit(c) ||
                  static_cast<unsigned char>(c) >= 0x80))
                unit = false;
        }
        if (!rest.empty() && !is_alpha(rest[0]) && static_cast<unsigned char>(rest[0]) < 0x80)
            unit = false;
        if (unit && words <= 3) {
            Rational r = parse_plain_number(num);
            if (r.ok) return canonical(r);
        }
        Rational f = parse_latex_fraction(s);
        if (f.ok) return canonical(f);
    }
    // Text: no spaces; plain words lower case; "(A)" -> "a".
    std::string out;
    for (char c : s)
        if (!is_space(c)) out += c;
    if (out.find('\\') == std::string::npos)
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (out.size() == 3 && out[0] == '(' && out[2] == ')' && is_alpha(out[1]))
        out = out.substr(1, 1);
    return out;
}

bool answers_equal(const std::string& a, const std::string& b) {
    const std::string x = normalize_answer(a), y = normalize_answer(b);
    if (x.empty() || y.empty()) return false;
    if (x == y) return true;
    const Rational rx = parse_plain_number(x), ry = parse_plain_number(y);
    if (rx.ok && ry.ok)
        return std::fabs(static_cast<double>(rx.value - ry.value)) <=
               1e-9 * std::max(1.0, std::fabs(static_cast<double>(ry.value)));
    return false;
}

}  // namespace rs
