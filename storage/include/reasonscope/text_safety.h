// Making stored text (run names, model names, task ids, answers, model
// output) safe to put where it was not written for: JSON (valid UTF-8 only),
// a terminal (no escape sequences), Markdown and HTML (no markup), CSV (no
// formulas). Stored runs keep their bytes as they are; these apply on output.
#pragma once

#include <string>
#include <string_view>

namespace rs::text {

// True when s is well-formed UTF-8 (no stray or truncated bytes, overlong
// forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);
// s with every ill-formed sequence replaced by U+FFFD (one per maximal ill-formed
// subpart, as the Unicode standard recommends); valid input is returned as is.
std::string valid_utf8(std::string_view s);
// The largest cut <= pos (and <= s.size()) that does not split a UTF-8
// character of s: cutting there leaves whole characters on both sides.
size_t utf8_floor(std::string_view s, size_t pos);

// Valid UTF-8 with every control character written as a visible escape:
// C0 and DEL as \xNN, C1 (U+0080..U+009F) and the bidirectional overrides
// (U+202A..U+202E, U+2066..U+2069, which reorder what a terminal shows) as
// \uNNNN. keep_layout keeps \n and \t (multi-line text); otherwise they are
// escaped too (one-line fields of a table).
std::string printable(std::string_view s, bool keep_layout = false);

// For one cell of a Markdown table (or a heading): printable, one line, and
// no markup: HTML entities for & < >, backslash escapes for the characters
// Markdown gives a meaning inline (\ ` * _ [ ] | ~ and the like).
std::string markdown_inline(std::string_view s);
// Text for HTML (element content or a quoted attribute): & < > " ' as
// entities, and valid UTF-8 (a page says charset=utf-8; stored text may not).
std::string html_escape(std::string_view s);
// A fenced code block holding s verbatim (valid UTF-8, controls escaped but
// \n and \t kept): the fence is longer than any backtick run inside, so
// nothing in s can close it.
std::string markdown_code_block(std::string_view s);

// A CSV text field: quoted, quotes doubled, and, when it starts with a
// character a spreadsheet reads as a formula (= + - @, tab, CR), prefixed
// with a single quote (OWASP) unless the whole field is a plain number
// ("-3.5" stays -3.5).
std::string csv_text(std::string_view s);

}  // namespace rs::text
