// Lexer and parser for Jinja templates, following Jinja2 3.1's lexer rules
// (whitespace control, trim_blocks, lstrip_blocks, raw, comments) and its
// recursive-descent parser (operator precedence, filters, tests).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "jinja_ast.h"

namespace rs::jinja {

namespace {

constexpr int kMaxParseDepth = 200;  // nested blocks and parentheses
constexpr int kMaxExprDepth = 256;   // depth of one expression's tree

enum class Tok { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type;
    std::string value;
    size_t pos;
};

// Python's whitespace (str.isspace, the \s of Jinja's lexer): the byte
// length of the whitespace character at s[p], or 0.
size_t ws_at(std::string_view s, size_t p) {
    if (p >= s.size()) return 0;
    unsigned char c = static_cast<unsigned char>(s[p]);
    if (c < 0x80) return ((c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20)) ? 1 : 0;
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 0;
    if (n == 0 || p + n > s.size()) return 0;
    std::u32string u = utf8::decode(s.substr(p, n));
    return u.size() == 1 && utf8::is_space(u[0]) ? n : 0;
}
// The byte length of the whitespace character ending at s[end - 1], or 0.
size_t ws_before(std::string_view s, size_t end) {
    for (size_t n = 1; n <= 3 && n <= end; ++n)
        if (ws_at(s, end - n) == n) return n;
    return 0;
}
size_t skip_ws(std::string_view s, size_t p) {
    while (size_t n = ws_at(s, p)) p += n;
    return p;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) {
    return is_name_start(c) || is_digit(c);
}

// Line and column (1-based) of a byte offset.
class LineMap {
  public:
    explicit LineMap(const std::string& s) {
        starts_.push_back(0);
        for (size_t i = 0; i < s.size(); ++i)
            if (s[i] == '\n') starts_.push_back(i + 1);
    }
    std::pair<int, int> at(size_t pos) const {
        auto it = std::upper_bound(starts_.begin(), starts_.end(), pos);
        size_t line = static_cast<size_t>(it - starts_.begin());
        return {static_cast<int>(line), static_cast<int>(pos - starts_[line - 1] + 1)};
    }

  private:
    std::vector<size_t> starts_;
};

[[noreturn]] void syntax_error(const LineMap& lm, size_t pos, const std::string& msg) {
    auto [line, col] = lm.at(pos);
    throw Failure{Failure::Kind::Syntax, msg, line, col};
}

std::string describe(const Token& t) {
    switch (t.type) {
        case Tok::Data:
            return "template data";
        case Tok::VarBegin:
            return "begin of print statement";
        case Tok::VarEnd:
            return "end of print statement";
        case Tok::BlockBegin:
            return "begin of statement block";
        case Tok::BlockEnd:
            return "end of statement block";
        case Tok::Eof:
            return "end of template";
        case Tok::String:
            return "string";
        case Tok::Int:
            return "integer";
        case Tok::Float:
            return "float";
        default:
            return t.value;
    }
}

// ---------------------------------------------------------------- lexer

class Lexer {
  public:
    Lexer(const std::string& src, const LineMap& lm) : s_(src), lm_(lm) {}

    std::vector<Token> run() {
        while (pos_ < s_.size()) {
            size_t tag = find_tag(pos_);
            if (tag == std::string::npos) {
                emit(Tok::Data, s_.substr(pos_), pos_);
                break;
            }
            char kind = s_[tag + 1];
            size_t after = tag + 2;
            char sign = 0;
            if (after < s_.size() && (s_[after] == '-' || s_[after] == '+')) sign = s_[after++];
            size_t raw_end = kind == '%' ? match_raw_begin(after) : std::string::npos;
            std::string text = s_.substr(pos_, tag - pos_);
            strip_text(text, sign, kind == '{');
            if (!text.empty()) emit(Tok::Data, text, pos_);
            line_starting_ = false;
            if (raw_end != std::string::npos) {
                lex_raw(raw_end);
            } else if (kind == '#') {
                lex_comment(tag, after);
            } else {
                lex_tag(kind, tag, after);
            }
        }
        tokens_.push_back(Token{Tok::Eof, "", s_.size()});
        return std::move(tokens_);
    }

  private:
    const std::string& s_;
    const LineMap& lm_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    bool line_starting_ = true;

    void emit(Tok t, std::string v, size_t pos) { tokens_.push_back(Token{t, std::move(v), pos}); }

    size_t find_tag(size_t from) const {
        for (size_t i = s_.find('{', from); i != std::string::npos; i = s_.find('{', i + 1))
            if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#'))
                return i;
        return std::string::npos;
    }

    // The text before a tag: `-` strips all whitespace before it;
    // lstrip_blocks strips spaces and tabs from the start of the line to a
    // block or comment tag (not `{%+`, not `{{`).
    void strip_text(std::string& text, char sign, bool variable) const {
        if (sign == '-') {
            size_t e = text.size();
            while (size_t n = ws_before(text, e)) e -= n;
            text.resize(e);
        } else if (sign != '+' && !variable) {
            size_t nl = text.rfind('\n');
            size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
            if ((l_pos > 0 || line_starting_) && l_pos < text.size()) {
                if (skip_ws(text, l_pos) == text.size()) text.resize(l_pos);
            }
        }
    }

    // After `{%` and its sign: `\s*raw\s*(-%}\s*|%})`; returns the end or npos.
    size_t match_raw_begin(size_t p) const {
        p = skip_ws(s_, p);
        if (s_.compare(p, 3, "raw") != 0) return std::string::npos;
        p += 3;
        p = skip_ws(s_, p);
        if (s_.compare(p, 3, "-%}") == 0) {
            p += 3;
            p = skip_ws(s_, p);
            return p;
        }
        if (s_.compare(p, 2, "%}") == 0) return p + 2;
        return std::string::npos;
    }

    // Ends a tag at p: `+END`, `-END\s*` or `END` (+ one newline for blocks
    // and comments: trim_blocks). Returns the new position.
    size_t end_tag(size_t p, char sign, size_t end_len, bool trim_newline) {
        size_t q = p + end_len;
        if (sign == '-') {
            q = skip_ws(s_, q);
        } else if (sign == 0 && trim_newline && q < s_.size() && s_[q] == '\n') {
            ++q;
        }
        line_starting_ = q > 0 && s_[q - 1] == '\n';
        return q;
    }

    void lex_raw(size_t body) {
        line_starting_ = body > 0 && s_[body - 1] == '\n';
        // (.*?)({%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?))
        for (size_t p = s_.find("{%", body); p != std::string::npos; p = s_.find("{%", p + 1)) {
            size_t q = p + 2;
            char sign = 0;
            if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) sign = s_[q++];
            q = skip_ws(s_, q);
            if (s_.compare(q, 6, "endraw") != 0) continue;
            q += 6;
            q = skip_ws(s_, q);
            char end_sign = 0;
            if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) end_sign = s_[q++];
            if (s_.compare(q, 2, "%}") != 0) continue;
            std::string text = s_.substr(body, p - body);
            strip_text(text, sign, false);
            if (!text.empty()) emit(Tok::Data, text, body);
            pos_ = end_tag(q, end_sign, 2, true);
            return;
        }
        syntax_error(lm_, body, "missing end of raw directive ({% endraw %})");
    }

    // (.*?)(+#}|-#}\s*|#}\n?): the first #}, with the sign before it if any.
    void lex_comment(size_t tag, size_t p) {
        size_t q = s_.find("#}", p);
        if (q == std::string::npos) syntax_error(lm_, tag, "missing end of comment tag (#})");
        char sign = (q > p && (s_[q - 1] == '-' || s_[q - 1] == '+')) ? s_[q - 1] : 0;
        pos_ = end_tag(q, sign, 2, true);
    }

    void lex_tag(char kind, size_t tag, size_t p) {
        const bool block = kind == '%';
        emit(block ? Tok::BlockBegin : Tok::VarBegin, "", tag);
        const char* end = block ? "%}" : "}}";
        std::vector<char> balance;
        size_t n = s_.size();
        while (true) {
            if (p >= n)
                syntax_error(lm_, tag,
                             std::string("unexpected end of template: the ") +
                                 (block ? "{%" : "{{") + " tag is never closed");
            if (balance.empty()) {
                char sign = 0;
                size_t q = p;
                if (s_[q] == '-' || s_[q] == '+') sign = s_[q++];
                if (s_.compare(q, 2, end) == 0 && !(sign == '+' && !block)) {
                    emit(block ? Tok::BlockEnd : Tok::VarEnd, "", p);
                    pos_ = end_tag(q, sign, 2, block);
                    return;
                }
            }
            char c = s_[p];
            if (size_t w = ws_at(s_, p)) {
                p += w;
                continue;
            }
            if (is_digit(c)) {
                p = lex_number(p);
                continue;
            }
            if (is_name_start(c)) {
                size_t q = p;
                while (q < n && is_name_char(s_[q]) && !ws_at(s_, q)) ++q;
                emit(Tok::Name, s_.substr(p, q - p), p);
                p = q;
                continue;
            }
            if (c == '\'' || c == '"') {
                p = lex_string(p);
                continue;
            }
            static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
            bool matched = false;
            for (const char* op : two)
                if (s_.compare(p, 2, op) == 0) {
                    emit(Tok::Op, op, p);
                    p += 2;
                    matched = true;
                    break;
                }
            if (matched) continue;
            if (std::strchr("+-*/%~<>=.,:|()[]{};", c) && c != 0) {
                if (c == '(' || c == '[' || c == '{') {
                    balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
                } else if (c == ')' || c == ']' || c == '}') {
                    if (balance.empty())
                        syntax_error(lm_, p, std::string("unexpected '") + c + "'");
                    if (balance.back() != c)
                        syntax_error(lm_, p,
                                     std::string("unexpected '") + c + "', expected '" +
                                         balance.back() + "'");
                    balance.pop_back();
                }
                emit(Tok::Op, std::string(1, c), p);
                ++p;
                continue;
            }
            syntax_error(lm_, p, std::string("unexpected character '") + c + "'");
        }
    }

    size_t lex_number(size_t p) {
        size_t n = s_.size();
        size_t start = p;
        auto digits = [&](size_t q, auto pred) {
            // (d+_)*d+
            size_t r = q;
            if (r >= n || !pred(s_[r])) return q;
            while (r < n && (pred(s_[r]) || (s_[r] == '_' && r + 1 < n && pred(s_[r + 1])))) ++r;
            return r;
        };
        auto dec = [](char c) { return c >= '0' && c <= '9'; };
        if (s_[p] == '0' && p + 1 < n && std::strchr("xXoObB", s_[p + 1]) && s_[p + 1]) {
            char base = static_cast<char>(s_[p + 1] | 0x20);
            auto pred = [base](char c) {
                if (base == 'b') return c == '0' || c == '1';
                if (base == 'o') return c >= '0' && c <= '7';
                return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
            };
            size_t q = p + 2;
            if (q < n && s_[q] == '_') ++q;
            size_t e = digits(q, pred);
            if (e > q) {
                std::string v;
                for (size_t i = q; i < e; ++i)
                    if (s_[i] != '_') v.push_back(s_[i]);
                int64_t x = 0;
                int b = base == 'b' ? 2 : base == 'o' ? 8 : 16;
                // Past int64 the literal becomes a float, as a decimal one
                // does (found by fuzz_chat_template: the product overflowed).
                double big = 0;
                bool over = false;
                for (char c : v) {
                    int d = (c >= '0' && c <= '9') ? c - '0' : (c | 0x20) - 'a' + 10;
                    if (!over && x > (std::numeric_limits<int64_t>::max() - d) / b) {
                        over = true;
                        big = static_cast<double>(x);
                    }
                    if (over)
                        big = big * b + d;
                    else
                        x = x * b + d;
                }
                if (over) {
                    char buf[64];
                    std::snprintf(buf, sizeof buf, "%.17g", big);
                    emit(Tok::Float, buf, start);
                } else {
                    emit(Tok::Int, std::to_string(x), start);
                }
                return e;
            }
        }
        size_t e = digits(p, dec);
        bool is_float = false;
        bool after_dot = start > 0 && s_[start - 1] == '.';
        if (!after_dot) {
            size_t q = e;
            if (q + 1 < n && s_[q] == '.' && dec(s_[q + 1])) {
                q = digits(q + 1, dec);
                is_float = true;
            }
            if (q < n && (s_[q] == 'e' || s_[q] == 'E')) {
                size_t r = q + 1;
                if (r < n && (s_[r] == '+' || s_[r] == '-')) ++r;
                size_t t = digits(r, dec);
                if (t > r) {
                    q = t;
                    is_float = true;
                }
            }
            if (is_float) e = q;
        }
        std::string v;
        for (size_t i = start; i < e; ++i)
            if (s_[i] != '_') v.push_back(s_[i]);
        emit(is_float ? Tok::Float : Tok::Int, v, start);
        return e;
    }

    size_t lex_string(size_t p) {
        char q = s_[p];
        size_t i = p + 1, n = s_.size();
        std::string out;
        while (true) {
            if (i >= n) syntax_error(lm_, p, "unterminated string literal");
            char c = s_[i];
            if (c == q) break;
            if (c != '\\') {
                out.push_back(c);
                ++i;
                continue;
            }
            if (i + 1 >= n) syntax_error(lm_, p, "unterminated string literal");
            char e = s_[i + 1];
            i += 2;
            auto hex = [&](int count) -> char32_t {
                char32_t v = 0;
                for (int k = 0; k < count; ++k) {
                    if (i >= n || !std::isxdigit(static_cast<unsigned char>(s_[i])))
                        syntax_error(lm_, i, "truncated \\x, \\u or \\U escape in a string");
                    char h = s_[i++];
                    v = v * 16 + ((h >= '0' && h <= '9') ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                return v;
            };
            switch (e) {
                case '\n':
                    break;  // line continuation
                case '\\':
                    out.push_back('\\');
                    break;
                case '\'':
                    out.push_back('\'');
                    break;
                case '"':
                    out.push_back('"');
                    break;
                case 'a':
                    out.push_back('\a');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'v':
                    out.push_back('\v');
                    break;
                case 'x':
                    utf8::append(out, hex(2));
                    break;
                case 'u':
                    utf8::append(out, hex(4));
                    break;
                case 'U': {
                    char32_t v = hex(8);
                    if (v > 0x10FFFF) syntax_error(lm_, i, "illegal Unicode character in a string");
                    utf8::append(out, v);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        char32_t v = e - '0';
                        for (int k = 0; k < 2 && i < n && s_[i] >= '0' && s_[i] <= '7'; ++k)
                            v = v * 8 + (s_[i++] - '0');
                        utf8::append(out, v);
                    } else {
                        out.push_back('\\');
                        out.push_back(e);
                    }
            }
        }
        emit(Tok::String, out, p);
        return i + 1;
    }
};

// ---------------------------------------------------------------- parser

class Parser {
  public:
    Parser(std::vector<Token> toks, const LineMap& lm) : t_(std::move(toks)), lm_(lm) {}

    Body parse_all() {
        Body body = subparse({});
        if (cur().type != Tok::Eof) error(cur(), "unexpected " + describe(cur()));
        return body;
    }

  private:
    std::vector<Token> t_;
    const LineMap& lm_;
    size_t i_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
    std::vector<Stmt*> macros_;
    std::vector<std::pair<std::string, size_t>> open_tags_;  // for "missing end tag" errors

    struct Guard {
        Parser& p;
        Guard(Parser& parser, const Token& at) : p(parser) {
            if (++p.depth_ > kMaxParseDepth) {
                p.error(at, "template nested too deeply (more than " +
                                std::to_string(kMaxParseDepth) + " levels)");
            }
        }
        ~Guard() { --p.depth_; }
    };

    const Token& cur() const { return t_[i_]; }
    const Token& look(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    const Token& advance() {
        const Token& t = t_[i_];
        if (i_ + 1 < t_.size()) ++i_;
        return t;
    }
    [[noreturn]] void error(const Token& at, const std::string& msg) const {
        syntax_error(lm_, at.pos, msg);
    }
    bool is_op(const char* op) const { return cur().type == Tok::Op && cur().value == op; }
    bool is_name(const char* name) const { return cur().type == Tok::Name && cur().value == name; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        advance();
        return true;
    }
    void expect_op(const char* op) {
        if (!skip_op(op))
            error(cur(), std::string("expected '") + op + "', got '" + describe(cur()) + "'");
    }
    void expect_block_end() {
        if (cur().type != Tok::BlockEnd)
            error(cur(), "expected end of statement block (%}), got '" + describe(cur()) + "'");
        advance();
    }
    std::string expect_name() {
        if (cur().type != Tok::Name) error(cur(), "expected a name, got '" + describe(cur()) + "'");
        return advance().value;
    }

    // Trees are built bottom-up; their depth is bounded here (a flat chain
    // like 1 + 1 + ... nests as deeply as it is long).
    void note_depth(Expr& parent, const Expr& kid) const {
        if (kid.depth + 1 <= parent.depth) return;
        parent.depth = kid.depth + 1;
        if (parent.depth > kMaxExprDepth)
            throw Failure{Failure::Kind::Syntax,
                          "expression nested too deeply (more than " +
                              std::to_string(kMaxExprDepth) + " levels)",
                          parent.line, parent.column};
    }
    void add_kid(Expr& parent, ExprPtr kid) const {
        if (kid) note_depth(parent, *kid);
        parent.kids.push_back(std::move(kid));
    }

    ExprPtr node(ExprKind k, const Token& at) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        auto [line, col] = lm_.at(at.pos);
        e->line = line;
        e->column = col;
        return e;
    }
    StmtPtr stmt(StmtKind k, const Token& at) {
        auto s = std::make_unique<Stmt>();
        s->kind = k;
        auto [line, col] = lm_.at(at.pos);
        s->line = line;
        s->column = col;
        return s;
    }

    // ---- statements

    // Parses until a block tag whose name is in `end` (left current), or EOF.
    Body subparse(const std::vector<std::string>& end) {
        Body body;
        while (cur().type != Tok::Eof) {
            const Token& t = cur();
            if (t.type == Tok::Data) {
                auto s = stmt(StmtKind::Data, t);
                s->text = t.value;
                body.push_back(std::move(s));
                advance();
            } else if (t.type == Tok::VarBegin) {
                advance();
                auto s = stmt(StmtKind::Output, t);
                s->expr = parse_tuple(false, true, {}, false);
                if (cur().type != Tok::VarEnd)
                    error(cur(),
                          "expected end of print statement (}}), got '" + describe(cur()) + "'");
                advance();
                body.push_back(std::move(s));
            } else if (t.type == Tok::BlockBegin) {
                advance();
                if (cur().type == Tok::Name &&
                    std::find(end.begin(), end.end(), cur().value) != end.end())
                    return body;
                StmtPtr s = parse_statement();
                if (s) body.push_back(std::move(s));
                expect_block_end();
            } else {
                error(t, "unexpected " + describe(t));
            }
        }
        return body;
    }

    // `%}` then the body up to one of `end` (current is then that name).
    Body parse_statements(const std::vector<std::string>& end, bool drop_needle) {
        skip_op(":");
        expect_block_end();
        Body body = subparse(end);
        if (cur().type == Tok::Eof) {
            const auto& [tag, pos] = open_tags_.back();
            std::string want;
            for (size_t k = 0; k < end.size(); ++k)
                want += (k ? (k + 1 == end.size() ? " or " : ", ") : "") + ("'" + end[k] + "'");
            syntax_error(lm_, pos,
                         "unexpected end of template: the '" + tag + "' tag on line " +
                             std::to_string(lm_.at(pos).first) + " is never closed (looking for " +
                             want + ")");
        }
        if (drop_needle) advance();
        return body;
    }

    StmtPtr parse_statement() {
        const Token& t = cur();
        Guard g(*this, t);
        if (t.type != Tok::Name) error(t, "tag name expected, got '" + describe(t) + "'");
        const std::string& name = t.value;
        open_tags_.emplace_back(name, t.pos);
        StmtPtr s;
        if (name == "if")
            s = parse_if();
        else if (name == "for")
            s = parse_for();
        else if (name == "set")
            s = parse_set();
        else if (name == "macro")
            s = parse_macro();
        else if (name == "call")
            s = parse_call_block();
        else if (name == "filter")
            s = parse_filter_block();
        else if (name == "generation") {
            advance();
            s = stmt(StmtKind::Scope, t);
            s->body = parse_statements({"endgeneration"}, true);
        } else if (name == "with")
            s = parse_with();
        else if (name == "print") {
            advance();
            s = stmt(StmtKind::Output, t);
            s->expr = parse_tuple(false, true, {}, false);
        } else if (name == "do") {
            advance();
            s = stmt(StmtKind::Do, t);
            s->expr = parse_tuple(false, true, {}, false);
        } else if (name == "break" || name == "continue") {
            if (loop_depth_ == 0) error(t, "'" + name + "' outside of a for loop");
            advance();
            s = stmt(name == "break" ? StmtKind::Break : StmtKind::Continue, t);
        } else if (name == "include" || name == "import" || name == "from" || name == "extends" ||
                   name == "block" || name == "autoescape") {
            error(t, "the '" + name + "' tag is not supported in chat templates");
        } else if (name.rfind("end", 0) == 0 || name == "else" || name == "elif") {
            error(t, "unexpected '" + name + "' tag (no open block expects it here)");
        } else {
            error(t, "unknown tag '" + name + "'");
        }
        open_tags_.pop_back();
        return s;
    }

    StmtPtr parse_if() {
        const Token& t = advance();
        auto root = stmt(StmtKind::If, t);
        Stmt* node = root.get();
        while (true) {
            node->expr = parse_tuple(false, false, {}, false);
            node->body = parse_statements({"elif", "else", "endif"}, false);
            const Token& tk = advance();
            if (tk.value == "elif") {
                auto elif = stmt(StmtKind::If, tk);
                Stmt* next = elif.get();
                root->elifs.push_back(std::move(elif));
                node = next;
                continue;
            }
            if (tk.value == "else") root->else_body = parse_statements({"endif"}, true);
            break;
        }
        return root;
    }

    StmtPtr parse_for() {
        const Token& t = advance();
        auto s = stmt(StmtKind::For, t);
        s->target = parse_assign_target(true, false, {"in"}, false);
        if (!skip_name("in")) error(cur(), "expected 'in', got '" + describe(cur()) + "'");
        s->expr = parse_tuple(false, false, {"recursive"}, false);
        if (skip_name("if")) s->cond = parse_expression(true);
        s->recursive = skip_name("recursive");
        ++loop_depth_;
        s->body = parse_statements({"endfor", "else"}, false);
        --loop_depth_;
        if (advance().value == "else") s->else_body = parse_statements({"endfor"}, true);
        return s;
    }

    StmtPtr parse_set() {
        const Token& t = advance();
        ExprPtr target = parse_assign_target(true, false, {}, true);
        if (skip_op("=")) {
            auto s = stmt(StmtKind::Set, t);
            s->target = std::move(target);
            s->expr = parse_tuple(false, true, {}, false);
            return s;
        }
        auto s = stmt(StmtKind::SetBlock, t);
        s->target = std::move(target);
        if (is_op("|")) s->expr = parse_filter(node(ExprKind::FilterInput, cur()), false);
        s->body = parse_statements({"endset"}, true);
        return s;
    }

    void parse_signature(Stmt& s) {
        expect_op("(");
        while (!is_op(")")) {
            if (!s.params.empty()) expect_op(",");
            const Token& at = cur();
            std::string name = expect_name();
            if (std::find(s.params.begin(), s.params.end(), name) != s.params.end())
                error(at, "duplicate argument '" + name + "'");
            ExprPtr def;
            if (skip_op("="))
                def = parse_expression(true);
            else if (!s.defaults.empty() && s.defaults.back())
                error(at, "non-default argument follows default argument");
            s.params.push_back(name);
            s.defaults.push_back(std::move(def));
        }
        expect_op(")");
    }

    StmtPtr parse_macro() {
        const Token& t = advance();
        auto s = stmt(StmtKind::Macro, t);
        s->text = expect_name();
        parse_signature(*s);
        macros_.push_back(s.get());
        int saved = loop_depth_;
        loop_depth_ = 0;
        s->body = parse_statements({"endmacro"}, true);
        loop_depth_ = saved;
        macros_.pop_back();
        return s;
    }

    StmtPtr parse_call_block() {
        const Token& t = advance();
        auto s = stmt(StmtKind::CallBlock, t);
        if (is_op("(")) parse_signature(*s);
        s->expr = parse_expression(true);
        if (s->expr->kind != ExprKind::Call) error(t, "expected a call after 'call'");
        macros_.push_back(s.get());
        int saved = loop_depth_;
        loop_depth_ = 0;
        s->body = parse_statements({"endcall"}, true);
        loop_depth_ = saved;
        macros_.pop_back();
        return s;
    }

    StmtPtr parse_filter_block() {
        const Token& t = advance();
        auto s = stmt(StmtKind::FilterBlock, t);
        s->expr = parse_filter(node(ExprKind::FilterInput, t), true);
        s->body = parse_statements({"endfilter"}, true);
        return s;
    }

    StmtPtr parse_with() {
        const Token& t = advance();
        auto s = stmt(StmtKind::With, t);
        while (cur().type != Tok::BlockEnd) {
            if (!s->assigns.empty()) expect_op(",");
            ExprPtr target = parse_assign_target(false, false, {}, false);
            expect_op("=");
            s->assigns.emplace_back(std::move(target), parse_expression(true));
        }
        s->body = parse_statements({"endwith"}, true);
        return s;
    }

    ExprPtr parse_assign_target(bool with_tuple, bool name_only,
                                const std::vector<std::string>& extra_end, bool with_namespace) {
        const Token& t = cur();
        if (with_namespace && t.type == Tok::Name && look().type == Tok::Op &&
            look().value == ".") {
            auto e = node(ExprKind::NSRef, t);
            e->name = advance().value;
            advance();  // .
            e->attr = expect_name();
            return e;
        }
        ExprPtr target;
        if (name_only) {
            target = node(ExprKind::Name, t);
            target->name = expect_name();
        } else if (with_tuple) {
            target = parse_tuple(true, true, extra_end, false);
        } else {
            target = parse_primary();
        }
        check_assignable(*target, t);
        return target;
    }

    void check_assignable(const Expr& e, const Token& at) const {
        if (e.kind == ExprKind::Name) {
            static const char* reserved[] = {"true", "false", "none", "True", "False", "None"};
            for (const char* r : reserved)
                if (e.name == r) error(at, "cannot assign to '" + e.name + "'");
            return;
        }
        if (e.kind == ExprKind::TupleLit) {
            for (const auto& k : e.kids) check_assignable(*k, at);
            return;
        }
        error(at, "cannot assign to this expression");
    }

    // ---- expressions

    bool is_tuple_end(const std::vector<std::string>& extra_end) const {
        const Token& t = cur();
        if (t.type == Tok::VarEnd || t.type == Tok::BlockEnd ||
            (t.type == Tok::Op && t.value == ")"))
            return true;
        if (t.type == Tok::Name)
            for (const auto& e : extra_end)
                if (t.value == e) return true;
        return false;
    }

    ExprPtr parse_tuple(bool simplified, bool with_condexpr,
                        const std::vector<std::string>& extra_end, bool explicit_parens) {
        const Token& start = cur();
        std::vector<ExprPtr> args;
        bool is_tuple = false;
        while (true) {
            if (!args.empty()) expect_op(",");
            if (is_tuple_end(extra_end)) break;
            if (simplified)
                args.push_back(parse_primary());
            else
                args.push_back(parse_expression(with_condexpr));
            if (is_op(","))
                is_tuple = true;
            else
                break;
        }
        if (!is_tuple) {
            if (!args.empty()) return std::move(args[0]);
            if (!explicit_parens)
                error(cur(), "expected an expression, got '" + describe(cur()) + "'");
        }
        auto e = node(ExprKind::TupleLit, start);
        for (auto& k : args) add_kid(*e, std::move(k));
        return e;
    }

    ExprPtr parse_expression(bool with_condexpr) {
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    ExprPtr parse_condexpr() {
        const Token& start = cur();
        ExprPtr e1 = parse_or();
        while (skip_name("if")) {
            ExprPtr e2 = parse_or();
            ExprPtr e3;
            if (skip_name("else")) {
                Guard g(*this, cur());
                e3 = parse_condexpr();
            }
            auto c = node(ExprKind::CondExpr, start);
            add_kid(*c, std::move(e1));
            add_kid(*c, std::move(e2));
            add_kid(*c, std::move(e3));
            e1 = std::move(c);
        }
        return e1;
    }

    ExprPtr binary(ExprKind k, const Token& at, ExprPtr a, ExprPtr b, std::string op = {}) {
        auto e = node(k, at);
        e->name = std::move(op);
        add_kid(*e, std::move(a));
        add_kid(*e, std::move(b));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (is_name("or")) {
            const Token& t = advance();
            left = binary(ExprKind::Or, t, std::move(left), parse_and());
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (is_name("and")) {
            const Token& t = advance();
            left = binary(ExprKind::And, t, std::move(left), parse_not());
        }
        return left;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            const Token& t = advance();
            Guard g(*this, t);
            auto e = node(ExprKind::Not, t);
            add_kid(*e, parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const Token& start = cur();
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            const Token& t = cur();
            if (t.type == Tok::Op && (t.value == "==" || t.value == "!=" || t.value == "<" ||
                                      t.value == ">" || t.value == "<=" || t.value == ">=")) {
                op = t.value;
                advance();
            } else if (is_name("in")) {
                op = "in";
                advance();
            } else if (is_name("not") && look().type == Tok::Name && look().value == "in") {
                op = "notin";
                advance();
                advance();
            } else {
                break;
            }
            if (!cmp) {
                cmp = node(ExprKind::Compare, start);
                add_kid(*cmp, std::move(first));
            }
            cmp->ops.push_back(op);
            add_kid(*cmp, parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token& t = advance();
            std::string op = t.value;
            left = binary(ExprKind::Binary, t, std::move(left), parse_concat(), op);
        }
        return left;
    }

    ExprPtr parse_concat() {
        const Token& start = cur();
        ExprPtr first = parse_math2();
        if (!is_op("~")) return first;
        auto e = node(ExprKind::Concat, start);
        add_kid(*e, std::move(first));
        while (skip_op("~")) add_kid(*e, parse_math2());
        return e;
    }

    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& t = advance();
            std::string op = t.value;
            left = binary(ExprKind::Binary, t, std::move(left), parse_pow(), op);
        }
        return left;
    }

    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        while (is_op("**")) {
            const Token& t = advance();
            left = binary(ExprKind::Binary, t, std::move(left), parse_unary(true), "**");
        }
        return left;
    }

    ExprPtr parse_unary(bool with_filter) {
        const Token& t = cur();
        Guard g(*this, t);
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            advance();
            e = node(t.value == "-" ? ExprKind::Neg : ExprKind::Pos, t);
            add_kid(*e, parse_unary(false));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filter_expr(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        const Token& t = cur();
        ExprPtr e;
        switch (t.type) {
            case Tok::Name: {
                const std::string& v = t.value;
                if (v == "true" || v == "True" || v == "false" || v == "False") {
                    e = node(ExprKind::Const, t);
                    e->value = Value(v == "true" || v == "True");
                } else if (v == "none" || v == "None") {
                    e = node(ExprKind::Const, t);
                    e->value = Value::none();
                } else {
                    e = node(ExprKind::Name, t);
                    e->name = v;
                    if (v == "caller" || v == "varargs" || v == "kwargs")
                        for (Stmt* m : macros_) {
                            if (v == "caller") m->uses_caller = true;
                            if (v == "varargs") m->uses_varargs = true;
                            if (v == "kwargs") m->uses_kwargs = true;
                        }
                }
                advance();
                return e;
            }
            case Tok::String: {
                e = node(ExprKind::Const, t);
                std::string s;
                while (cur().type == Tok::String) s += advance().value;
                e->value = Value(std::move(s));
                return e;
            }
            case Tok::Int: {
                e = node(ExprKind::Const, t);
                errno = 0;
                char* endp = nullptr;
                long long v = std::strtoll(t.value.c_str(), &endp, 10);
                if (errno == ERANGE)
                    e->value = Value(std::strtod(t.value.c_str(), nullptr));
                else
                    e->value = Value(static_cast<int64_t>(v));
                advance();
                return e;
            }
            case Tok::Float: {
                e = node(ExprKind::Const, t);
                e->value = Value(std::strtod(t.value.c_str(), nullptr));
                advance();
                return e;
            }
            case Tok::Op:
                if (t.value == "(") {
                    advance();
                    e = parse_tuple(false, true, {}, true);
                    expect_op(")");
                    return e;
                }
                if (t.value == "[") {
                    advance();
                    e = node(ExprKind::ListLit, t);
                    while (!is_op("]")) {
                        if (!e->kids.empty()) expect_op(",");
                        if (is_op("]")) break;
                        add_kid(*e, parse_expression(true));
                    }
                    expect_op("]");
                    return e;
                }
                if (t.value == "{") {
                    advance();
                    e = node(ExprKind::DictLit, t);
                    while (!is_op("}")) {
                        if (!e->kids.empty()) expect_op(",");
                        if (is_op("}")) break;
                        add_kid(*e, parse_expression(true));
                        expect_op(":");
                        add_kid(*e, parse_expression(true));
                    }
                    expect_op("}");
                    return e;
                }
                break;
            default:
                break;
        }
        error(t, "unexpected '" + describe(t) + "'");
    }

    ExprPtr parse_postfix(ExprPtr e) {
        while (true) {
            if (is_op(".") || is_op("["))
                e = parse_subscript(std::move(e));
            else if (is_op("("))
                e = parse_call(std::move(e));
            else
                break;
        }
        return e;
    }

    ExprPtr parse_filter_expr(ExprPtr e) {
        while (true) {
            if (is_op("|"))
                e = parse_filter(std::move(e), false);
            else if (is_name("is"))
                e = parse_test(std::move(e));
            else if (is_op("("))
                e = parse_call(std::move(e));
            else
                break;
        }
        return e;
    }

    ExprPtr parse_subscript(ExprPtr obj) {
        const Token& t = advance();
        if (t.value == ".") {
            const Token& a = cur();
            if (a.type == Tok::Name) {
                auto e = node(ExprKind::Getattr, t);
                e->name = advance().value;
                add_kid(*e, std::move(obj));
                return e;
            }
            if (a.type != Tok::Int) error(a, "expected a name or number after '.'");
            auto e = node(ExprKind::Getitem, t);
            auto k = node(ExprKind::Const, a);
            k->value = Value(static_cast<int64_t>(std::strtoll(a.value.c_str(), nullptr, 10)));
            advance();
            add_kid(*e, std::move(obj));
            add_kid(*e, std::move(k));
            return e;
        }
        // [
        std::vector<ExprPtr> args;
        const Token& start = cur();
        while (!is_op("]")) {
            if (!args.empty()) expect_op(",");
            args.push_back(parse_subscribed());
        }
        expect_op("]");
        auto e = node(ExprKind::Getitem, t);
        add_kid(*e, std::move(obj));
        if (args.size() == 1) {
            add_kid(*e, std::move(args[0]));
        } else {
            auto tup = node(ExprKind::TupleLit, start);
            for (auto& k : args) add_kid(*tup, std::move(k));
            add_kid(*e, std::move(tup));
        }
        return e;
    }

    ExprPtr parse_subscribed() {
        const Token& start = cur();
        std::vector<ExprPtr> args;
        if (is_op(":")) {
            advance();
            args.push_back(nullptr);
        } else {
            ExprPtr n = parse_expression(true);
            if (!is_op(":")) return n;
            advance();
            args.push_back(std::move(n));
        }
        if (is_op(":"))
            args.push_back(nullptr);
        else if (!is_op("]") && !is_op(","))
            args.push_back(parse_expression(true));
        else
            args.push_back(nullptr);
        if (is_op(":")) {
            advance();
            if (!is_op("]") && !is_op(","))
                args.push_back(parse_expression(true));
            else
                args.push_back(nullptr);
        } else {
            args.push_back(nullptr);
        }
        auto e = node(ExprKind::Slice, start);
        for (auto& k : args) add_kid(*e, std::move(k));
        return e;
    }

    void parse_call_args(Expr& e) {
        const Token& open = cur();
        expect_op("(");
        bool require_comma = false;
        auto ensure = [&](bool ok) {
            if (!ok) error(open, "invalid syntax for function call expression");
        };
        while (!is_op(")")) {
            if (require_comma) {
                expect_op(",");
                if (is_op(")")) break;
            }
            if (is_op("*")) {
                ensure(!e.dyn_args && !e.dyn_kwargs);
                advance();
                e.dyn_args = parse_expression(true);
                note_depth(e, *e.dyn_args);
            } else if (is_op("**")) {
                ensure(!e.dyn_kwargs);
                advance();
                e.dyn_kwargs = parse_expression(true);
                note_depth(e, *e.dyn_kwargs);
            } else if (cur().type == Tok::Name && look().type == Tok::Op && look().value == "=") {
                ensure(!e.dyn_kwargs);
                std::string key = advance().value;
                advance();
                e.kwargs.emplace_back(key, parse_expression(true));
                note_depth(e, *e.kwargs.back().second);
            } else {
                ensure(!e.dyn_args && !e.dyn_kwargs && e.kwargs.empty());
                add_kid(e, parse_expression(true));
            }
            require_comma = true;
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr callee) {
        auto e = node(ExprKind::Call, cur());
        add_kid(*e, std::move(callee));
        parse_call_args(*e);
        return e;
    }

    std::string dotted_name() {
        std::string name = expect_name();
        while (is_op(".")) {
            advance();
            name += "." + expect_name();
        }
        return name;
    }

    ExprPtr parse_filter(ExprPtr input, bool start_inline) {
        while (is_op("|") || start_inline) {
            if (!start_inline) advance();
            start_inline = false;
            const Token& t = cur();
            auto e = node(ExprKind::Filter, t);
            e->name = dotted_name();
            add_kid(*e, std::move(input));
            if (is_op("(")) parse_call_args(*e);
            input = std::move(e);
        }
        return input;
    }

    ExprPtr parse_test(ExprPtr input) {
        const Token& is_tok = advance();  // is
        bool negated = skip_name("not");
        const Token& t = cur();
        auto e = node(ExprKind::Test, t);
        e->name = dotted_name();
        add_kid(*e, std::move(input));
        const Token& c = cur();
        if (is_op("(")) {
            parse_call_args(*e);
        } else if ((c.type == Tok::Name || c.type == Tok::String || c.type == Tok::Int ||
                    c.type == Tok::Float ||
                    (c.type == Tok::Op && (c.value == "[" || c.value == "{"))) &&
                   !(c.type == Tok::Name &&
                     (c.value == "else" || c.value == "or" || c.value == "and"))) {
            if (is_name("is")) error(c, "you cannot chain multiple tests with 'is'");
            ExprPtr arg = parse_postfix(parse_primary());
            add_kid(*e, std::move(arg));
        }
        if (!negated) return e;
        auto n = node(ExprKind::Not, is_tok);
        add_kid(*n, std::move(e));
        return n;
    }
};

}  // namespace

std::shared_ptr<const Program> parse_template(const std::string& source) {
    // Newlines normalised to \n; one trailing newline dropped
    // (keep_trailing_newline=False).
    std::string src;
    src.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            src.push_back('\n');
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            src.push_back(source[i]);
        }
    }
    if (!src.empty() && src.back() == '\n') src.pop_back();
    LineMap lm(src);
    Lexer lexer(src, lm);
    Parser parser(lexer.run(), lm);
    auto prog = std::make_shared<Program>();
    prog->body = parser.parse_all();
    return prog;
}

}  // namespace rs::jinja
