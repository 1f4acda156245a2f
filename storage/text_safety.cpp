#include "reasonscope/text_safety.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace rs::text {
namespace {

// Length of the well-formed sequence at s[i] (1..4), or 0 when it is
// ill-formed; `bad` is then how many bytes make its maximal ill-formed
// subpart (Unicode 15, table 3-7), at least 1.
size_t sequence_at(std::string_view s, size_t i, size_t& bad) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    bad = 1;
    if (c < 0x80) return 1;
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;  // overlong
        if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;  // overlong
        if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else
        return 0;
    for (size_t k = 1; k < n; ++k) {
        if (i + k >= s.size()) return 0;
        const unsigned char x = b(k);
        if (k == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) return 0;
        bad = k + 1;
    }
    return n;
}

uint32_t decode(std::string_view s, size_t i, size_t n) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = n == 1 ? c : c & (0x7Fu >> n);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    return cp;
}

bool is_control(uint32_t cp, bool keep_layout) {
    if (keep_layout && (cp == '\n' || cp == '\t')) return false;
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool plain_number(std::string_view s) {
    size_t i = 0;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (i < s.size() && s[i] == '.')
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9';) ++i, ++digits;
    if (digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        size_t exp = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
        if (exp == 0) return false;
    }
    return i == s.size();
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
    for (size_t i = 0, bad = 0; i < s.size();) {
        const size_t n = sequence_at(s, i, bad);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string valid_utf8(std::string_view s) {
    if (is_valid_utf8(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() + 8);
    for (size_t i = 0, bad = 0; i < s.size();) {
        const size_t n = sequence_at(s, i, bad);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            i += bad;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

size_t utf8_floor(std::string_view s, size_t pos) {
    pos = std::min(pos, s.size());
    size_t k = pos;
    while (k > 0 && k < s.size() && pos - k < 3 &&
           (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80)
        --k;
    if (k == pos) return pos;
    // s[k] leads the character pos falls in when it is well formed and spans pos.
    size_t bad = 0;
    const size_t n = sequence_at(s, k, bad);
    return n > pos - k ? k : pos;
}

std::string printable(std::string_view in, bool keep_layout) {
    const std::string s = valid_utf8(in);
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0, bad = 0; i < s.size();) {
        const size_t n = sequence_at(s, i, bad);
        const uint32_t cp = decode(s, i, n);
        if (is_control(cp, keep_layout)) {
            char buf[16];
            if (cp < 0x80)
                std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
            else
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
            out += buf;
        } else {
            out.append(s, i, n);
        }
        i += n;
    }
    return out;
}

std::string html_escape(std::string_view in) {
    const std::string s = valid_utf8(in);
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            case '\'':
                o += "&#39;";
                break;
            default:
                o += c;
        }
    }
    return o;
}

std::string markdown_inline(std::string_view s) {
    std::string o;
    o.reserve(s.size() + 8);
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '\\':
            case '`':
            case '*':
            case '_':
            case '[':
            case ']':
            case '|':
            case '~':
            case '#':
            case '!':
                o += '\\';
                o += c;
                break;
            default:
                o += c;
        }
    }
    // After the Markdown escapes, so that the backslash of \x1b stays one.
    return printable(o, false);
}

std::string markdown_code_block(std::string_view in) {
    const std::string s = printable(in, true);
    size_t longest = 0, run = 0;
    for (char c : s) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    const std::string fence(std::max<size_t>(3, longest + 1), '`');
    std::string o = fence + "\n" + s;
    if (!s.empty() && s.back() != '\n') o += '\n';
    return o + fence + "\n";
}

std::string csv_text(std::string_view in) {
    const std::string s = valid_utf8(in);
    std::string o = "\"";
    if (!s.empty() &&
        (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
         s[0] == '\r') &&
        !plain_number(s))
        o += '\'';
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
}

}  // namespace rs::text
