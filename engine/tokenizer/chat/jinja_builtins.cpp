// Jinja's filters and tests, Python's str/list/dict methods, the globals
// (range, dict, namespace, raise_exception, strftime_now, ...) and the
// arithmetic operators, with the semantics of Jinja2 3.1 on CPython.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "jinja_eval.h"

namespace rs::jinja {

namespace {

// ---------------------------------------------------------------- arguments

// Binds positional and keyword arguments to a Python-style signature.
class Params {
  public:
    Params(const Args& a, const char* fn, std::initializer_list<const char*> names)
        : names_(names), slots_(names.size(), nullptr) {
        if (a.pos.size() > names_.size())
            fail(std::string(fn) + "() takes at most " + std::to_string(names_.size()) +
                 " argument(s) (" + std::to_string(a.pos.size()) + " given)");
        for (size_t i = 0; i < a.pos.size(); ++i) slots_[i] = &a.pos[i];
        for (const auto& [k, v] : a.kw) {
            size_t j = 0;
            while (j < names_.size() && k != names_[j]) ++j;
            if (j == names_.size())
                fail(std::string(fn) + "() got an unexpected keyword argument '" + k + "'");
            if (slots_[j])
                fail(std::string(fn) + "() got multiple values for argument '" + k + "'");
            slots_[j] = &v;
        }
    }
    bool has(size_t i) const { return slots_[i] != nullptr; }
    Value get(size_t i, Value def = Value()) const { return slots_[i] ? *slots_[i] : def; }
    // A parameter that is given and not None.
    bool given(size_t i) const { return slots_[i] && !slots_[i]->is_none(); }

  private:
    std::vector<const char*> names_;
    std::vector<const Value*> slots_;
};

int64_t to_int_arg(const Value& v, const char* what) {
    if (v.is_integral()) return v.as_int();
    fail(std::string(what) + " must be an integer, not " + type_name(v));
}

std::string str_arg(const Value& v, const char* what) {
    if (v.is_string()) return v.str();
    fail(std::string(what) + " must be a string, not " + type_name(v));
}

// ---------------------------------------------------------------- strings

// Byte offset <-> code point index.
size_t cp_index(const std::string& s, size_t byte) {
    size_t n = 0;
    for (size_t i = 0; i < byte && i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
    return n;
}
size_t byte_offset(const std::string& s, size_t cp) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (n == cp) return i;
            ++n;
        }
    }
    return s.size();
}

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
    std::u32string set;
    bool ws = chars.is_none() || chars.is_undefined();
    if (!ws) set = utf8::decode(str_arg(chars, "strip arg"));
    auto strip_it = [&](char32_t c) {
        return ws ? utf8::is_space(c) : set.find(c) != std::u32string::npos;
    };
    if (utf8::is_ascii(s) && (ws || utf8::is_ascii(chars.str()))) {
        size_t b = 0, e = s.size();
        if (left)
            while (b < e && strip_it(static_cast<unsigned char>(s[b]))) ++b;
        if (right)
            while (e > b && strip_it(static_cast<unsigned char>(s[e - 1]))) --e;
        return s.substr(b, e - b);
    }
    std::u32string u = utf8::decode(s);
    size_t b = 0, e = u.size();
    if (left)
        while (b < e && strip_it(u[b])) ++b;
    if (right)
        while (e > b && strip_it(u[e - 1])) --e;
    return utf8::encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
    std::vector<Value> out;
    if (sep.is_none() || sep.is_undefined()) {
        std::u32string u = utf8::decode(s);
        size_t i = 0, n = u.size();
        while (true) {
            while (i < n && utf8::is_space(u[i])) ++i;
            if (i >= n) break;
            if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
                size_t e = n;
                while (e > i && utf8::is_space(u[e - 1])) --e;
                out.emplace_back(utf8::encode(u.substr(i, e - i)));
                break;
            }
            size_t j = i;
            while (j < n && !utf8::is_space(u[j])) ++j;
            out.emplace_back(utf8::encode(u.substr(i, j - i)));
            i = j;
        }
        return out;
    }
    std::string d = str_arg(sep, "separator");
    if (d.empty()) fail("empty separator");
    size_t pos = 0;
    while (true) {
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) break;
        size_t f = s.find(d, pos);
        if (f == std::string::npos) break;
        out.emplace_back(s.substr(pos, f - pos));
        pos = f + d.size();
    }
    out.emplace_back(s.substr(pos));
    return out;
}

std::vector<Value> py_rsplit(const std::string& s, const Value& sep, int64_t maxsplit) {
    if (maxsplit < 0) return py_split(s, sep, -1);
    std::vector<Value> out;
    if (sep.is_none() || sep.is_undefined()) {
        std::u32string u = utf8::decode(s);
        size_t e = u.size();
        while (true) {
            while (e > 0 && utf8::is_space(u[e - 1])) --e;
            if (e == 0) break;
            if (static_cast<int64_t>(out.size()) == maxsplit) {
                size_t b = 0;
                while (b < e && utf8::is_space(u[b])) ++b;
                out.emplace_back(utf8::encode(u.substr(b, e - b)));
                break;
            }
            size_t b = e;
            while (b > 0 && !utf8::is_space(u[b - 1])) --b;
            out.emplace_back(utf8::encode(u.substr(b, e - b)));
            e = b;
        }
        std::reverse(out.begin(), out.end());
        return out;
    }
    std::string d = str_arg(sep, "separator");
    if (d.empty()) fail("empty separator");
    size_t end = s.size();
    while (static_cast<int64_t>(out.size()) < maxsplit) {
        if (end < d.size()) break;
        size_t f = s.rfind(d, end - d.size());
        if (f == std::string::npos) break;
        out.emplace_back(s.substr(f + d.size(), end - f - d.size()));
        end = f;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
}

std::string py_replace(Interp& in, const std::string& s, const std::string& old,
                       const std::string& rep, int64_t count) {
    std::string out;
    if (old.empty()) {
        std::u32string u = utf8::decode(s);
        int64_t done = 0;
        for (size_t i = 0; i <= u.size(); ++i) {
            if (count < 0 || done < count) {
                out += rep;
                ++done;
            }
            if (i < u.size()) utf8::append(out, u[i]);
            in.check_size(out.size());
        }
        return out;
    }
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t f = s.find(old, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += rep;
        in.check_size(out.size());
        pos = f + old.size();
        ++done;
    }
    out.append(s, pos, std::string::npos);
    in.charge(1 + s.size() / 64);
    return out;
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
    std::vector<std::string> out;
    std::u32string u = utf8::decode(s);
    size_t start = 0, i = 0;
    while (i < u.size()) {
        char32_t c = u[i];
        bool br = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                  c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!br) {
            ++i;
            continue;
        }
        size_t end = i;
        ++i;
        if (c == '\r' && i < u.size() && u[i] == '\n') ++i;
        out.push_back(utf8::encode(u.substr(start, (keepends ? i : end) - start)));
        start = i;
    }
    if (start < u.size()) out.push_back(utf8::encode(u.substr(start)));
    return out;
}

std::string capitalize(const std::string& s) {
    std::u32string u = utf8::decode(s);
    for (size_t i = 0; i < u.size(); ++i)
        u[i] = i == 0 ? utf8::to_upper(u[i]) : utf8::to_lower(u[i]);
    return utf8::encode(u);
}

std::string py_title(const std::string& s) {
    std::u32string u = utf8::decode(s);
    bool prev_cased = false;
    std::u32string r;
    for (char32_t c : u) {
        if (c == 0xDF && !prev_cased)
            r += U"Ss";
        else
            r.push_back(prev_cased ? utf8::to_lower(c) : utf8::to_upper(c));
        prev_cased = utf8::is_upper(c) || utf8::is_lower(c);
    }
    return utf8::encode(r);
}

// Jinja's |title: words start after -, whitespace, (, {, [ or <.
std::string jinja_title(const std::string& s) {
    std::u32string u = utf8::decode(s);
    bool start = true;
    for (char32_t& c : u) {
        bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || utf8::is_space(c);
        if (sep) {
            start = true;
            continue;
        }
        c = start ? utf8::to_upper(c) : utf8::to_lower(c);
        start = false;
    }
    return utf8::encode(u);
}

// Widths and precisions past this are refused (the default output limit;
// found by fuzz_chat_template: "{:99999999999999999999}" overflowed, and a
// padding of 10**12 characters was attempted).
constexpr int64_t kMaxWidth = int64_t(64) << 20;

// Digits as a number, saturating at kMaxWidth + 1.
int64_t add_digit(int64_t v, char c) {
    return std::min<int64_t>(v * 10 + (c - '0'), kMaxWidth + 1);
}

// A decimal index written in a format field or attribute path; saturates
// (an index that large is out of range anyway).
int64_t parse_index(const std::string& digits) {
    int64_t v = 0;
    for (char c : digits) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10)
            return std::numeric_limits<int64_t>::max();
        v = v * 10 + (c - '0');
    }
    return v;
}

std::string pad(const std::string& s, int64_t width, char align, const std::string& fill) {
    if (width > kMaxWidth) fail_limit("width " + std::to_string(width) + " is too large");
    int64_t len = static_cast<int64_t>(utf8::length(s));
    if (width <= len) return s;
    int64_t marg = width - len;
    int64_t left = 0;
    if (align == '>')
        left = marg;
    else if (align == '^')
        left = marg / 2 + (marg & width & 1);
    std::string out;
    for (int64_t i = 0; i < left; ++i) out += fill;
    out += s;
    for (int64_t i = 0; i < marg - left; ++i) out += fill;
    return out;
}

// ---------------------------------------------------------------- formatting

std::string fmt_double(double d, char type, int precision, const std::string& flags) {
    if (std::isinf(d) || std::isnan(d)) {
        std::string s = std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf");
        if (std::isupper(static_cast<unsigned char>(type))) {
            for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        if (d > 0 && flags.find('+') != std::string::npos) s = "+" + s;
        return s;
    }
    std::string f = "%" + flags + "." + std::to_string(precision) + type;
    char buf[512];
    std::snprintf(buf, sizeof buf, f.c_str(), d);
    return buf;
}

// Python's "fmt % args".
std::string percent_format(Interp& in, const std::string& fmt, const Value& args) {
    std::vector<Value> vals;
    Dict* mapping = nullptr;
    if (args.is_list() && args.list()->tuple)
        vals = args.list()->items;
    else if (args.is_dict())
        mapping = args.dict().get();
    else
        vals.push_back(args);
    size_t vi = 0;
    std::string out;
    const size_t n = fmt.size();
    for (size_t i = 0; i < n; ++i) {
        char c = fmt[i];
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        if (++i >= n) fail("incomplete format");
        if (fmt[i] == '%') {
            out.push_back('%');
            continue;
        }
        std::string key;
        bool has_key = false;
        if (fmt[i] == '(') {
            size_t e = fmt.find(')', i);
            if (e == std::string::npos) fail("incomplete format key");
            key = fmt.substr(i + 1, e - i - 1);
            has_key = true;
            i = e + 1;
        }
        auto next = [&]() -> Value {
            if (has_key) {
                if (!mapping) fail("format requires a mapping");
                Value* v = mapping->find(std::string_view(key));
                if (!v) fail("KeyError: '" + key + "'");
                return *v;
            }
            if (vi >= vals.size()) fail("not enough arguments for format string");
            return vals[vi++];
        };
        std::string flags;
        while (i < n && std::strchr("-+ #0", fmt[i]) && fmt[i]) flags.push_back(fmt[i++]);
        int64_t width = -1, prec = -1;
        if (i < n && fmt[i] == '*') {
            width = to_int_arg(next(), "* width");
            ++i;
        } else {
            // Saturating: a width past the output limit fails below, never
            // overflows (found by fuzz_chat_template).
            while (i < n && std::isdigit(static_cast<unsigned char>(fmt[i])))
                width = add_digit(width < 0 ? 0 : width, fmt[i++]);
        }
        if (i < n && fmt[i] == '.') {
            ++i;
            prec = 0;
            if (i < n && fmt[i] == '*') {
                prec = to_int_arg(next(), "* precision");
                ++i;
            } else {
                while (i < n && std::isdigit(static_cast<unsigned char>(fmt[i])))
                    prec = add_digit(prec, fmt[i++]);
            }
        }
        // Padding and digits are output: bounded by the output limit.
        if (width > 0) in.check_size(out.size() + static_cast<size_t>(width));
        while (i < n && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
        if (i >= n) fail("incomplete format");
        char type = fmt[i];
        if (prec > 0 && type != 's' && type != 'r' && type != 'a')  // digits: output too
            in.check_size(out.size() + static_cast<size_t>(prec));
        Value v = next();
        std::string body;
        bool numeric = false;
        switch (type) {
            case 's':
            case 'r':
            case 'a':
                body = type == 's' ? to_str(v) : repr(v);
                if (prec >= 0) {
                    std::u32string u = utf8::decode(body);
                    if (static_cast<int64_t>(u.size()) > prec)
                        body = utf8::encode(u.substr(0, prec));
                }
                break;
            case 'd':
            case 'i':
            case 'u': {
                if (!v.is_number())
                    fail("%" + std::string(1, type) + " format: a real number is required, not " +
                         type_name(v));
                // As Python's int(x): NaN and infinities are errors; a float
                // past int64 prints its exact integer value (%.0f).
                int64_t x = 0;
                if (v.is_float()) {
                    const double d = v.as_double();
                    if (std::isnan(d)) fail("cannot convert float NaN to integer");
                    if (std::isinf(d)) fail("cannot convert float infinity to integer");
                    if (std::fabs(d) >= 9.2e18) {
                        char big[400];
                        std::snprintf(big, sizeof big, "%.0f", std::fabs(d));
                        body = big;
                        x = d < 0 ? -1 : 1;
                    } else
                        x = static_cast<int64_t>(d);
                } else
                    x = v.as_int();
                if (body.empty())
                    body = std::to_string(x < 0 ? 0 - static_cast<uint64_t>(x)
                                                : static_cast<uint64_t>(x));
                if (prec > static_cast<int64_t>(body.size()))
                    body = std::string(prec - body.size(), '0') + body;
                if (x < 0)
                    body = "-" + body;
                else if (flags.find('+') != std::string::npos)
                    body = "+" + body;
                else if (flags.find(' ') != std::string::npos)
                    body = " " + body;
                numeric = true;
                break;
            }
            case 'x':
            case 'X':
            case 'o': {
                if (!v.is_integral())
                    fail("%" + std::string(1, type) + " format: an integer is required, not " +
                         type_name(v));
                int64_t x = v.as_int();
                char buf[64];
                std::snprintf(buf, sizeof buf,
                              type == 'o' ? "%llo" : (type == 'x' ? "%llx" : "%llX"),
                              static_cast<unsigned long long>(x < 0 ? 0 - static_cast<uint64_t>(x)
                                                                    : static_cast<uint64_t>(x)));
                body = buf;
                if (flags.find('#') != std::string::npos)
                    body = std::string(type == 'o' ? "0o" : (type == 'x' ? "0x" : "0X")) + body;
                if (x < 0) body = "-" + body;
                numeric = true;
                break;
            }
            case 'e':
            case 'E':
            case 'f':
            case 'F':
            case 'g':
            case 'G': {
                if (!v.is_number()) fail("must be real number, not " + type_name(v));
                std::string fl;
                for (char f : flags)
                    if (f == '+' || f == ' ' || f == '#') fl.push_back(f);
                body = fmt_double(v.as_double(), type, prec < 0 ? 6 : static_cast<int>(prec), fl);
                numeric = true;
                break;
            }
            case 'c':
                if (v.is_integral()) {
                    utf8::append(body, static_cast<char32_t>(v.as_int()));
                } else {
                    body = to_str(v);
                }
                break;
            default:
                fail(std::string("unsupported format character '") + type + "'");
        }
        if (width >= 0) {
            int64_t len = static_cast<int64_t>(utf8::length(body));
            if (len < width) {
                if (flags.find('-') != std::string::npos)
                    body += std::string(width - len, ' ');
                else if (numeric && flags.find('0') != std::string::npos) {
                    size_t sign =
                        (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1
                                                                                                : 0;
                    body.insert(sign, std::string(width - len, '0'));
                } else
                    body = std::string(width - len, ' ') + body;
            }
        }
        out += body;
        in.check_size(out.size());
    }
    if (!mapping && vi < vals.size()) fail("not all arguments converted during string formatting");
    return out;
}

// format(value, spec) for str.format.
std::string format_spec(const Value& v, const std::string& spec) {
    size_t i = 0, n = spec.size();
    std::string fill = " ";
    char align = 0;
    auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    {
        std::u32string u = utf8::decode(spec);
        if (u.size() >= 2 && is_align(static_cast<char>(u[1])) && u[1] < 0x80) {
            fill.clear();
            utf8::append(fill, u[0]);
            align = static_cast<char>(u[1]);
            i = byte_offset(spec, 2);
        } else if (n >= 1 && is_align(spec[0])) {
            align = spec[0];
            i = 1;
        }
    }
    char sign = 0;
    if (i < n && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
    if (i < n && spec[i] == '#') ++i;  // alternate form: accepted, not applied
    if (i < n && spec[i] == '0') {
        if (!align) {
            fill = "0";
            align = '=';
        }
        ++i;
    }
    int64_t width = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(spec[i])))
        width = add_digit(width, spec[i++]);
    char grouping = 0;
    if (i < n && (spec[i] == ',' || spec[i] == '_')) grouping = spec[i++];
    int64_t prec = -1;
    if (i < n && spec[i] == '.') {
        ++i;
        prec = 0;
        while (i < n && std::isdigit(static_cast<unsigned char>(spec[i])))
            prec = add_digit(prec, spec[i++]);
    }
    if (width > kMaxWidth || prec > kMaxWidth)
        fail_limit("format specifier '" + spec + "': width or precision too large");
    char type = i < n ? spec[i++] : 0;
    if (i != n) fail("invalid format specifier '" + spec + "'");
    std::string body;
    bool numeric = v.is_number();
    if (v.is_string() || (!numeric && (type == 0 || type == 's'))) {
        if (type != 0 && type != 's')
            fail("unknown format code '" + std::string(1, type) + "' for object of type 'str'");
        body = v.is_string() ? v.str() : to_str(v);
        if (prec >= 0) {
            std::u32string u = utf8::decode(body);
            if (static_cast<int64_t>(u.size()) > prec) body = utf8::encode(u.substr(0, prec));
        }
        if (!align) align = '<';
    } else if (numeric) {
        bool neg = false;
        if (type == 0 && !v.is_float()) type = 'd';
        if (type == 'd' || type == 'n') {
            if (v.is_float()) fail("unknown format code 'd' for object of type 'float'");
            int64_t x = v.as_int();
            neg = x < 0;
            body = std::to_string(neg ? -x : x);
        } else if (type == 'x' || type == 'X' || type == 'o' || type == 'b') {
            if (v.is_float()) fail("unknown format code for object of type 'float'");
            int64_t x = v.as_int();
            neg = x < 0;
            uint64_t ux = static_cast<uint64_t>(neg ? -x : x);
            int base = type == 'o' ? 8 : (type == 'b' ? 2 : 16);
            const char* digs = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            do {
                body.insert(body.begin(), digs[ux % base]);
                ux /= base;
            } while (ux);
        } else if (type == 'c') {
            utf8::append(body, static_cast<char32_t>(v.as_int()));
        } else {
            double d = v.as_double();
            neg = std::signbit(d) && !std::isnan(d);
            double a = std::fabs(d);
            if (type == 0) {
                body = prec < 0 ? py_float_repr(a) : fmt_double(a, 'g', static_cast<int>(prec), "");
            } else if (type == '%') {
                body = fmt_double(a * 100, 'f', prec < 0 ? 6 : static_cast<int>(prec), "") + "%";
            } else if (std::strchr("eEfFgG", type)) {
                body = fmt_double(a, type, prec < 0 ? 6 : static_cast<int>(prec), "");
            } else {
                fail("unknown format code '" + std::string(1, type) +
                     "' for object of type 'float'");
            }
        }
        if (grouping) {
            size_t dot = body.find_first_not_of("0123456789");
            if (dot == std::string::npos) dot = body.size();
            std::string intpart = body.substr(0, dot), grouped;
            for (size_t k = 0; k < intpart.size(); ++k) {
                if (k && (intpart.size() - k) % 3 == 0) grouped.push_back(grouping);
                grouped.push_back(intpart[k]);
            }
            body = grouped + body.substr(dot);
        }
        std::string sgn = neg ? "-" : (sign == '+' ? "+" : (sign == ' ' ? " " : ""));
        if (!align) align = '>';
        if (align == '=') {
            int64_t len = static_cast<int64_t>(utf8::length(sgn + body));
            std::string padding;
            for (int64_t k = len; k < width; ++k) padding += fill;
            return sgn + padding + body;
        }
        body = sgn + body;
    } else {
        fail("unsupported format string passed to " + type_name(v) + ".__format__");
    }
    return pad(body, width, align == '=' ? '>' : align, fill);
}

// Python's str.format.
std::string str_format(Interp& in, const std::string& fmt, const Args& args) {
    std::string out;
    size_t auto_idx = 0;
    const size_t n = fmt.size();
    for (size_t i = 0; i < n; ++i) {
        char c = fmt[i];
        if (c == '}') {
            if (i + 1 < n && fmt[i + 1] == '}') {
                out.push_back('}');
                ++i;
                continue;
            }
            fail("single '}' encountered in format string");
        }
        if (c != '{') {
            out.push_back(c);
            continue;
        }
        if (i + 1 < n && fmt[i + 1] == '{') {
            out.push_back('{');
            ++i;
            continue;
        }
        size_t e = fmt.find('}', i);
        if (e == std::string::npos) fail("single '{' encountered in format string");
        std::string field = fmt.substr(i + 1, e - i - 1);
        i = e;
        std::string spec, conv;
        size_t colon = field.find(':');
        if (colon != std::string::npos) {
            spec = field.substr(colon + 1);
            field = field.substr(0, colon);
        }
        size_t bang = field.find('!');
        if (bang != std::string::npos) {
            conv = field.substr(bang + 1);
            field = field.substr(0, bang);
        }
        size_t k = 0;
        while (k < field.size() && field[k] != '.' && field[k] != '[') ++k;
        std::string head = field.substr(0, k);
        Value v;
        if (head.empty()) {
            if (auto_idx >= args.pos.size())
                fail("Replacement index " + std::to_string(auto_idx) +
                     " out of range for positional args tuple");
            v = args.pos[auto_idx++];
        } else if (std::all_of(head.begin(), head.end(), [](char ch) {
                       return std::isdigit(static_cast<unsigned char>(ch));
                   })) {
            const int64_t idx = parse_index(head);
            if (idx >= static_cast<int64_t>(args.pos.size()))
                fail("Replacement index " + head + " out of range for positional args tuple");
            v = args.pos[static_cast<size_t>(idx)];
        } else {
            bool found = false;
            for (const auto& [name, val] : args.kw)
                if (name == head) {
                    v = val;
                    found = true;
                }
            if (!found) fail("KeyError: '" + head + "'");
        }
        while (k < field.size()) {
            if (field[k] == '.') {
                size_t j = k + 1;
                while (j < field.size() && field[j] != '.' && field[j] != '[') ++j;
                v = in.getattr(v, field.substr(k + 1, j - k - 1));
                k = j;
            } else {
                size_t j = field.find(']', k);
                if (j == std::string::npos) fail("Missing ']' in format string");
                std::string key = field.substr(k + 1, j - k - 1);
                bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) {
                    return std::isdigit(static_cast<unsigned char>(ch));
                });
                v = in.getitem(v, digits ? Value(parse_index(key)) : Value(key));
                k = j + 1;
            }
        }
        if (conv == "r" || conv == "a")
            v = Value(repr(v));
        else if (conv == "s")
            v = Value(to_str(v));
        else if (!conv.empty())
            fail("Unknown conversion specifier " + conv);
        out += spec.empty() ? to_str(v) : format_spec(v, spec);
        in.check_size(out.size());
    }
    return out;
}

// ---------------------------------------------------------------- values

std::string as_text(const Value& v) {
    return v.is_string() ? v.str() : to_str(v);
}

Value ignore_case(const Value& v) {
    if (v.is_string()) return Value(utf8::lower(v.str()));
    return v;
}

// Jinja's make_attrgetter: "a.b.0" looked up with getitem semantics.
struct AttrGetter {
    std::vector<Value> parts;
    Value def;
    bool lower = false;

    AttrGetter(const Value& attribute, Value default_value = Value(), bool ignore = false)
        : def(std::move(default_value)), lower(ignore) {
        if (attribute.is_none() || attribute.is_undefined()) return;
        if (!attribute.is_string()) {
            parts.push_back(attribute);
            return;
        }
        for (const auto& p : py_split(attribute.str(), Value("."), -1)) {
            const std::string& s = p.str();
            bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c));
            });
            parts.push_back(digits ? Value(parse_index(s)) : p);
        }
    }
    Value operator()(Interp& in, Value item) const {
        for (const auto& p : parts) {
            item = in.getitem(item, p);
            if (!def.is_undefined() && !def.is_none() && item.is_undefined()) item = def;
        }
        return lower ? ignore_case(item) : item;
    }
};

// Jinja's make_multi_attrgetter ("a,b") for sort.
std::vector<AttrGetter> multi_getter(const Value& attribute, bool ignore) {
    std::vector<AttrGetter> out;
    if (attribute.is_string()) {
        for (const auto& p : py_split(attribute.str(), Value(","), -1))
            out.emplace_back(p, Value(), ignore);
    } else {
        out.emplace_back(attribute, Value(), ignore);
    }
    return out;
}

void sort_values(std::vector<Value>& items, std::vector<Value>& keys, bool reverse) {
    std::vector<size_t> idx(items.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        return reverse ? py_cmp(keys[b], keys[a]) < 0 : py_cmp(keys[a], keys[b]) < 0;
    });
    std::vector<Value> sorted;
    sorted.reserve(items.size());
    for (size_t i : idx) sorted.push_back(std::move(items[i]));
    items = std::move(sorted);
}

// ---------------------------------------------------------------- filters

Value f_tojson(Interp& in, const Value& v, Args& a) {
    Params p(a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions o;
    o.ensure_ascii = truthy(p.get(0, Value(false)));
    Value indent = p.get(1, Value::none());
    if (!indent.is_none() && !indent.is_undefined()) {
        o.indent = true;
        if (indent.is_string())
            o.indent_str = indent.str();
        else if (indent.is_integral())
            o.indent_str = std::string(
                static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(indent.as_int(), 1024))),
                ' ');
        else
            fail("tojson: indent must be an integer or a string");
        o.item_sep = ",";
    }
    Value seps = p.get(2, Value::none());
    if (!seps.is_none() && !seps.is_undefined()) {
        if (!seps.is_list() || seps.list()->items.size() != 2 ||
            !seps.list()->items[0].is_string() || !seps.list()->items[1].is_string())
            fail("tojson: separators must be a pair of strings");
        o.item_sep = seps.list()->items[0].str();
        o.key_sep = seps.list()->items[1].str();
    }
    o.sort_keys = truthy(p.get(3, Value(false)));
    std::string s = to_json(v, o);
    in.check_size(s.size());
    in.charge(1 + s.size() / 64);
    return Value(std::move(s));
}

Value f_from_json(Interp& in, const Value& v, Args& a) {
    Params p(a, "from_json", {});
    std::string s = as_text(v);
    nlohmann::ordered_json j;
    try {
        j = nlohmann::ordered_json::parse(s);
    } catch (const std::exception& e) {
        fail(std::string("from_json: invalid JSON: ") + e.what());
    }
    return from_json(j);
}

Value f_length(Interp&, const Value& v, Args& a) {
    Params p(a, "length", {});
    return Value(py_len(v));
}

Value f_default(Interp&, const Value& v, Args& a) {
    Params p(a, "default", {"default_value", "boolean"});
    Value def = p.get(0, Value(""));
    bool boolean = truthy(p.get(1, Value(false)));
    if (v.is_undefined() || (boolean && !truthy(v))) return def;
    return v;
}

Value f_trim(Interp&, const Value& v, Args& a) {
    Params p(a, "trim", {"chars"});
    Value r(py_strip(as_text(v), p.get(0, Value::none()), true, true));
    r.safe = v.safe;
    return r;
}

Value f_string(Interp&, const Value& v, Args& a) {
    Params p(a, "string", {});
    if (v.is_string()) return v;
    return Value(to_str(v));
}

Value f_upper(Interp&, const Value& v, Args& a) {
    Params p(a, "upper", {});
    return Value(utf8::upper(as_text(v)));
}
Value f_lower(Interp&, const Value& v, Args& a) {
    Params p(a, "lower", {});
    return Value(utf8::lower(as_text(v)));
}
Value f_capitalize(Interp&, const Value& v, Args& a) {
    Params p(a, "capitalize", {});
    return Value(capitalize(as_text(v)));
}
Value f_title(Interp&, const Value& v, Args& a) {
    Params p(a, "title", {});
    return Value(jinja_title(as_text(v)));
}

Value f_replace(Interp& in, const Value& v, Args& a) {
    Params p(a, "replace", {"old", "new", "count"});
    if (!p.has(0) || !p.has(1)) fail("replace() needs the old and the new string");
    Value count = p.get(2, Value::none());
    int64_t c = count.is_none() ? -1 : to_int_arg(count, "replace count");
    return Value(py_replace(in, as_text(v), as_text(p.get(0)), as_text(p.get(1)), c));
}

Value f_items(Interp&, const Value& v, Args& a) {
    Params p(a, "items", {});
    if (v.is_undefined()) return make_generator({});
    if (!v.is_dict()) fail("Can only get item pairs from a mapping.");
    std::vector<Value> out;
    for (const auto& [k, val] : v.dict()->items) out.push_back(make_list({k, val}, true));
    return make_generator(std::move(out));
}

Value f_dictsort(Interp& in, const Value& v, Args& a) {
    Params p(a, "dictsort", {"case_sensitive", "by", "reverse"});
    bool cs = truthy(p.get(0, Value(false)));
    std::string by = as_text(p.get(1, Value("key")));
    bool reverse = truthy(p.get(2, Value(false)));
    if (by != "key" && by != "value") fail("You can only sort by either \"key\" or \"value\"");
    if (!v.is_dict()) fail("dictsort: expected a mapping, got " + type_name(v));
    std::vector<Value> items, keys;
    for (const auto& [k, val] : v.dict()->items) {
        items.push_back(make_list({k, val}, true));
        Value key = by == "key" ? k : val;
        keys.push_back(cs ? key : ignore_case(key));
    }
    in.charge(items.size());
    sort_values(items, keys, reverse);
    return make_list(std::move(items));
}

Value f_list(Interp& in, const Value& v, Args& a) {
    Params p(a, "list", {});
    return make_list(in.iterate(v));
}

Value f_join(Interp& in, const Value& v, Args& a) {
    Params p(a, "join", {"d", "attribute"});
    std::string sep = as_text(p.get(0, Value("")));
    std::vector<Value> items = in.iterate(v);
    AttrGetter getter(p.get(1, Value::none()));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += as_text(getter(in, items[i]));
        in.check_size(out.size());
    }
    in.charge(1 + out.size() / 64);
    return Value(std::move(out));
}

Value f_first(Interp& in, const Value& v, Args& a) {
    Params p(a, "first", {});
    if (v.is_list()) {
        if (v.list()->items.empty()) return Value::undefined("No first item, sequence was empty.");
        return v.list()->items.front();
    }
    std::vector<Value> items = in.iterate(v);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
}

Value f_last(Interp& in, const Value& v, Args& a) {
    Params p(a, "last", {});
    std::vector<Value> items = in.iterate(v);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
}

Value f_reverse(Interp& in, const Value& v, Args& a) {
    Params p(a, "reverse", {});
    if (v.is_string()) {
        std::u32string u = utf8::decode(v.str());
        std::reverse(u.begin(), u.end());
        return Value(utf8::encode(u));
    }
    std::vector<Value> items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    return make_generator(std::move(items));
}

Value f_sort(Interp& in, const Value& v, Args& a) {
    Params p(a, "sort", {"reverse", "case_sensitive", "attribute"});
    bool reverse = truthy(p.get(0, Value(false)));
    bool cs = truthy(p.get(1, Value(false)));
    auto getters = multi_getter(p.get(2, Value::none()), !cs);
    std::vector<Value> items = in.iterate(v), keys;
    in.charge(items.size());
    for (const auto& item : items) {
        if (getters.size() == 1) {
            keys.push_back(getters[0](in, item));
        } else {
            std::vector<Value> k;
            for (const auto& g : getters) k.push_back(g(in, item));
            keys.push_back(make_list(std::move(k)));
        }
    }
    sort_values(items, keys, reverse);
    return make_list(std::move(items));
}

Value f_unique(Interp& in, const Value& v, Args& a) {
    Params p(a, "unique", {"case_sensitive", "attribute"});
    bool cs = truthy(p.get(0, Value(false)));
    AttrGetter getter(p.get(1, Value::none()), Value(), !cs);
    std::vector<Value> out, seen;
    for (auto& item : in.iterate(v)) {
        Value key = getter(in, item);
        bool dup = false;
        for (const auto& s : seen)
            if (py_eq(s, key)) {
                dup = true;
                break;
            }
        in.charge(1 + seen.size() / 16);
        if (!dup) {
            seen.push_back(key);
            out.push_back(std::move(item));
        }
    }
    return make_generator(std::move(out));
}

Value min_max(Interp& in, const Value& v, Args& a, bool want_max, const char* fn) {
    Params p(a, fn, {"case_sensitive", "attribute"});
    bool cs = truthy(p.get(0, Value(false)));
    AttrGetter getter(p.get(1, Value::none()), Value(), !cs);
    std::vector<Value> items = in.iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value best_key = getter(in, items[0]);
    for (size_t i = 1; i < items.size(); ++i) {
        Value k = getter(in, items[i]);
        int c = py_cmp(k, best_key);
        if (want_max ? c > 0 : c < 0) {
            best = i;
            best_key = k;
        }
    }
    return items[best];
}
Value f_min(Interp& in, const Value& v, Args& a) {
    return min_max(in, v, a, false, "min");
}
Value f_max(Interp& in, const Value& v, Args& a) {
    return min_max(in, v, a, true, "max");
}

Value f_sum(Interp& in, const Value& v, Args& a) {
    Params p(a, "sum", {"attribute", "start"});
    AttrGetter getter(p.get(0, Value::none()));
    Value total = p.get(1, Value(0));
    for (auto& item : in.iterate(v)) total = binary_op(in, "+", total, getter(in, item));
    return total;
}

Value f_map(Interp& in, const Value& v, Args& a) {
    if (!truthy(v)) return make_generator({});
    std::vector<Value> items = in.iterate(v);
    std::vector<Value> out;
    out.reserve(items.size());
    if (a.pos.empty()) {
        Value attribute, def;
        for (const auto& [k, val] : a.kw) {
            if (k == "attribute")
                attribute = val;
            else if (k == "default")
                def = val;
            else
                fail("map: unexpected keyword argument '" + k + "'");
        }
        if (attribute.is_undefined()) fail("map requires a filter argument");
        AttrGetter getter(attribute, def);
        for (auto& item : items) out.push_back(getter(in, item));
        return make_generator(std::move(out));
    }
    std::string name = str_arg(a.pos[0], "map filter name");
    Args rest;
    rest.pos.assign(a.pos.begin() + 1, a.pos.end());
    rest.kw = a.kw;
    for (auto& item : items) {
        Args copy = rest;
        out.push_back(in.apply_filter(name, item, copy));
    }
    return make_generator(std::move(out));
}

Value select_reject(Interp& in, const Value& v, Args& a, bool select, bool by_attr) {
    if (!truthy(v)) return make_generator({});
    size_t off = 0;
    AttrGetter getter{Value::none()};
    if (by_attr) {
        if (a.pos.empty()) fail("Missing parameter for attribute name");
        getter = AttrGetter(a.pos[0]);
        off = 1;
    }
    std::string test;
    bool has_test = a.pos.size() > off;
    if (has_test) test = str_arg(a.pos[off], "test name");
    Args rest;
    if (has_test) rest.pos.assign(a.pos.begin() + off + 1, a.pos.end());
    rest.kw = a.kw;
    std::vector<Value> out;
    for (auto& item : in.iterate(v)) {
        Value x = getter(in, item);
        bool r;
        if (has_test) {
            Args copy = rest;
            r = in.apply_test(test, x, copy);
        } else {
            r = truthy(x);
        }
        if (r == select) out.push_back(std::move(item));
    }
    return make_generator(std::move(out));
}
Value f_select(Interp& in, const Value& v, Args& a) {
    return select_reject(in, v, a, true, false);
}
Value f_reject(Interp& in, const Value& v, Args& a) {
    return select_reject(in, v, a, false, false);
}
Value f_selectattr(Interp& in, const Value& v, Args& a) {
    return select_reject(in, v, a, true, true);
}
Value f_rejectattr(Interp& in, const Value& v, Args& a) {
    return select_reject(in, v, a, false, true);
}

Value f_indent(Interp& in, const Value& v, Args& a) {
    Params p(a, "indent", {"width", "first", "blank"});
    Value w = p.get(0, Value(4));
    std::string ind = w.is_string() ? w.str()
                                    : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                                      to_int_arg(w, "indent width"), 0, 4096)),
                                                  ' ');
    bool first = truthy(p.get(1, Value(false)));
    bool blank = truthy(p.get(2, Value(false)));
    std::string s = as_text(v) + "\n";
    std::vector<std::string> lines = splitlines(s, false);
    std::string rv;
    if (blank) {
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i) rv += "\n" + ind;
            rv += lines[i];
        }
    } else {
        rv = lines.empty() ? "" : lines[0];
        for (size_t i = 1; i < lines.size(); ++i) {
            rv += "\n";
            if (!lines[i].empty()) rv += ind;
            rv += lines[i];
        }
    }
    if (first) rv = ind + rv;
    in.check_size(rv.size());
    return Value(std::move(rv));
}

Value f_int(Interp&, const Value& v, Args& a) {
    Params p(a, "int", {"default", "base"});
    Value def = p.get(0, Value(0));
    int64_t base = to_int_arg(p.get(1, Value(10)), "int base");
    if (v.is_integral()) return Value(v.as_int());
    if (v.is_float()) {
        double d = v.as_double();
        if (std::isnan(d) || std::isinf(d) || std::fabs(d) > 9.2e18) return def;
        return Value(static_cast<int64_t>(d));
    }
    if (v.is_string()) {
        std::string s = py_strip(v.str(), Value::none(), true, true);
        std::string t;
        for (size_t i = 0; i < s.size(); ++i)
            if (!(s[i] == '_' && i > 0 && i + 1 < s.size())) t.push_back(s[i]);
        if (!t.empty()) {
            errno = 0;
            char* end = nullptr;
            long long x = std::strtoll(t.c_str(), &end, static_cast<int>(base));
            if (end && *end == 0 && errno == 0 && !std::isspace(static_cast<unsigned char>(t[0])))
                return Value(static_cast<int64_t>(x));
            char* fend = nullptr;
            double d = std::strtod(t.c_str(), &fend);
            if (fend && *fend == 0 && !std::isnan(d) && !std::isinf(d) && std::fabs(d) < 9.2e18)
                return Value(static_cast<int64_t>(d));
        }
    }
    return def;
}

Value f_float(Interp&, const Value& v, Args& a) {
    Params p(a, "float", {"default"});
    Value def = p.get(0, Value(0.0));
    if (v.is_number()) return Value(v.as_double());
    if (v.is_string()) {
        std::string s = py_strip(v.str(), Value::none(), true, true);
        std::string t;
        for (char c : s)
            if (c != '_') t.push_back(c);
        if (!t.empty()) {
            char* end = nullptr;
            double d = std::strtod(t.c_str(), &end);
            if (end && *end == 0) return Value(d);
        }
    }
    return def;
}

Value f_abs(Interp&, const Value& v, Args& a) {
    Params p(a, "abs", {});
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.is_integral()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    fail("bad operand type for abs(): '" + type_name(v) + "'");
}

double round_half_even(double x, int64_t prec) {
    if (prec >= 0) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(prec, 300)), x);
        return std::strtod(buf, nullptr);
    }
    double m = std::pow(10.0, static_cast<double>(-prec));
    return std::nearbyint(x / m) * m;
}

Value f_round(Interp&, const Value& v, Args& a) {
    Params p(a, "round", {"precision", "method"});
    int64_t prec = to_int_arg(p.get(0, Value(0)), "round precision");
    std::string method = as_text(p.get(1, Value("common")));
    if (!v.is_number()) fail("round: a number is required, not " + type_name(v));
    if (method == "common") {
        if (v.is_integral()) return Value(v.as_int());
        return Value(round_half_even(v.as_double(), prec));
    }
    if (method != "ceil" && method != "floor") fail("method must be common, ceil or floor");
    double m = std::pow(10.0, static_cast<double>(prec));
    double x = v.as_double() * m;
    return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / m);
}

Value f_safe(Interp&, const Value& v, Args& a) {
    Params p(a, "safe", {});
    return Value::markup(as_text(v));
}

Value f_escape(Interp&, const Value& v, Args& a) {
    Params p(a, "escape", {});
    if (v.is_string() && v.safe) return v;
    return Value::markup(html_escape(as_text(v)));
}
Value f_forceescape(Interp&, const Value& v, Args& a) {
    Params p(a, "forceescape", {});
    return Value::markup(html_escape(as_text(v)));
}

Value f_striptags(Interp&, const Value& v, Args& a) {
    Params p(a, "striptags", {});
    std::string s = as_text(v), t;
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, 4, "<!--") == 0) {
            size_t e = s.find("-->", i + 4);
            if (e != std::string::npos) {
                i = e + 3;
                continue;
            }
        }
        if (s[i] == '<') {
            size_t e = s.find('>', i + 1);
            if (e != std::string::npos) {
                i = e + 1;
                continue;
            }
        }
        t.push_back(s[i++]);
    }
    std::string out;
    for (const auto& w : py_split(t, Value::none(), -1)) {
        if (!out.empty()) out.push_back(' ');
        out += w.str();
    }
    static const std::pair<const char*, const char*> ents[] = {{"&lt;", "<"},    {"&gt;", ">"},
                                                               {"&quot;", "\""}, {"&#34;", "\""},
                                                               {"&#39;", "'"},   {"&amp;", "&"}};
    for (const auto& [from, to] : ents) {
        size_t pos = 0;
        while ((pos = out.find(from, pos)) != std::string::npos) {
            out.replace(pos, std::strlen(from), to);
            pos += std::strlen(to);
        }
    }
    return Value(std::move(out));
}

Value f_wordcount(Interp&, const Value& v, Args& a) {
    Params p(a, "wordcount", {});
    int64_t n = 0;
    bool in_word = false;
    for (char32_t c : utf8::decode(as_text(v))) {
        bool w = utf8::is_alnum(c) || c == '_';
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value(n);
}

Value f_center(Interp&, const Value& v, Args& a) {
    Params p(a, "center", {"width"});
    return Value(pad(as_text(v), to_int_arg(p.get(0, Value(80)), "center width"), '^', " "));
}

Value f_truncate(Interp&, const Value& v, Args& a) {
    Params p(a, "truncate", {"length", "killwords", "end", "leeway"});
    int64_t length = to_int_arg(p.get(0, Value(255)), "truncate length");
    bool killwords = truthy(p.get(1, Value(false)));
    std::string end = as_text(p.get(2, Value("...")));
    int64_t leeway = p.given(3) ? to_int_arg(p.get(3), "truncate leeway") : 5;
    std::u32string s = utf8::decode(as_text(v));
    int64_t elen = static_cast<int64_t>(utf8::length(end));
    if (length < elen)
        fail("expected length >= " + std::to_string(elen) + ", got " + std::to_string(length));
    if (static_cast<int64_t>(s.size()) <= length + leeway) return Value(utf8::encode(s));
    std::string head = utf8::encode(s.substr(0, static_cast<size_t>(length - elen)));
    if (killwords) return Value(head + end);
    auto parts = py_rsplit(head, Value(" "), 1);
    return Value(parts[0].str() + end);
}

Value f_batch(Interp& in, const Value& v, Args& a) {
    Params p(a, "batch", {"linecount", "fill_with"});
    int64_t n = to_int_arg(p.get(0), "batch linecount");
    if (n <= 0) fail("batch linecount must be positive");
    Value fill = p.get(1, Value::none());
    std::vector<Value> out, tmp;
    for (auto& item : in.iterate(v)) {
        if (static_cast<int64_t>(tmp.size()) == n) {
            out.push_back(make_list(std::move(tmp)));
            tmp.clear();
        }
        tmp.push_back(std::move(item));
    }
    if (!tmp.empty()) {
        if (!fill.is_none())
            while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(fill);
        out.push_back(make_list(std::move(tmp)));
    }
    return make_generator(std::move(out));
}

Value f_format(Interp& in, const Value& v, Args& a) {
    if (!a.pos.empty() && !a.kw.empty())
        fail("can't handle positional and keyword arguments at the same time");
    Value args;
    if (!a.kw.empty()) {
        args = make_dict();
        for (const auto& [k, val] : a.kw) args.dict()->set(Value(k), val);
    } else {
        args = make_list(a.pos, true);
    }
    return Value(percent_format(in, as_text(v), args));
}

// pprint.pformat without line wrapping: dicts print with sorted keys.
Value sorted_dicts(const Value& v, int depth) {
    if (depth > kMaxValueDepth) fail_limit("value nested too deeply to print");
    if (v.is_list()) {
        std::vector<Value> items;
        for (const auto& x : v.list()->items) items.push_back(sorted_dicts(x, depth + 1));
        Value r = make_list(std::move(items), v.list()->tuple);
        r.list()->view = v.list()->view;
        return r;
    }
    if (v.is_dict()) {
        std::vector<Value> keys, vals;
        for (const auto& [k, x] : v.dict()->items) {
            keys.push_back(k);
            vals.push_back(sorted_dicts(x, depth + 1));
        }
        std::vector<Value> order = keys;
        sort_values(vals, keys, false);
        sort_values(order, order, false);
        Value d = make_dict();
        for (size_t i = 0; i < order.size(); ++i) d.dict()->items.emplace_back(order[i], vals[i]);
        return d;
    }
    return v;
}

Value f_pprint(Interp&, const Value& v, Args& a) {
    Params p(a, "pprint", {});
    return Value(repr(sorted_dicts(v, 0)));
}

Value f_groupby(Interp& in, const Value& v, Args& a) {
    Params p(a, "groupby", {"attribute", "default", "case_sensitive"});
    if (!p.has(0)) fail("groupby() needs an attribute");
    bool cs = truthy(p.get(2, Value(false)));
    AttrGetter key_of(p.get(0), p.get(1, Value::none()), !cs);
    AttrGetter real_key(p.get(0), p.get(1, Value::none()), false);
    std::vector<Value> items = in.iterate(v), keys;
    in.charge(items.size());
    for (const auto& item : items) keys.push_back(key_of(in, item));
    std::vector<Value> sorted_keys = keys;
    sort_values(items, keys, false);
    sort_values(sorted_keys, sorted_keys, false);
    std::vector<Value> out;
    size_t i = 0;
    while (i < items.size()) {
        size_t j = i;
        std::vector<Value> group;
        while (j < items.size() && py_eq(sorted_keys[j], sorted_keys[i]))
            group.push_back(items[j++]);
        Value grouper = cs ? sorted_keys[i] : real_key(in, group.front());
        Value pair = make_list({grouper, make_list(std::move(group))}, true);
        pair.list()->group = true;
        out.push_back(std::move(pair));
        i = j;
    }
    return make_list(std::move(out));
}

Value f_attr(Interp& in, const Value& v, Args& a) {
    Params p(a, "attr", {"name"});
    std::string name = str_arg(p.get(0), "attribute name");
    if (v.is_object()) return v.object()->get(name);
    if (v.is_undefined()) undefined_error(v);
    Value m = find_method(in, v, name);
    if (!m.is_undefined()) return m;
    return Value::undefined("'" + type_name(v) + " object' has no attribute '" + name + "'");
}

const std::unordered_map<std::string, FilterFn>& filters() {
    static const std::unordered_map<std::string, FilterFn> f = {
        {"tojson", f_tojson},
        {"from_json", f_from_json},
        {"length", f_length},
        {"count", f_length},
        {"default", f_default},
        {"d", f_default},
        {"trim", f_trim},
        {"string", f_string},
        {"upper", f_upper},
        {"lower", f_lower},
        {"capitalize", f_capitalize},
        {"title", f_title},
        {"replace", f_replace},
        {"items", f_items},
        {"dictsort", f_dictsort},
        {"list", f_list},
        {"join", f_join},
        {"first", f_first},
        {"last", f_last},
        {"reverse", f_reverse},
        {"sort", f_sort},
        {"unique", f_unique},
        {"min", f_min},
        {"max", f_max},
        {"sum", f_sum},
        {"map", f_map},
        {"select", f_select},
        {"reject", f_reject},
        {"selectattr", f_selectattr},
        {"rejectattr", f_rejectattr},
        {"indent", f_indent},
        {"int", f_int},
        {"float", f_float},
        {"abs", f_abs},
        {"round", f_round},
        {"safe", f_safe},
        {"e", f_escape},
        {"escape", f_escape},
        {"forceescape", f_forceescape},
        {"striptags", f_striptags},
        {"wordcount", f_wordcount},
        {"center", f_center},
        {"truncate", f_truncate},
        {"batch", f_batch},
        {"format", f_format},
        {"pprint", f_pprint},
        {"attr", f_attr},
        {"groupby", f_groupby},
    };
    return f;
}

// ---------------------------------------------------------------- tests

bool t_defined(Interp&, const Value& v, Args&) {
    return !v.is_undefined();
}
bool t_undefined(Interp&, const Value& v, Args&) {
    return v.is_undefined();
}
bool t_none(Interp&, const Value& v, Args&) {
    return v.is_none();
}
bool t_boolean(Interp&, const Value& v, Args&) {
    return v.is_bool();
}
bool t_true(Interp&, const Value& v, Args&) {
    return v.is_bool() && v.as_bool();
}
bool t_false(Interp&, const Value& v, Args&) {
    return v.is_bool() && !v.as_bool();
}
bool t_integer(Interp&, const Value& v, Args&) {
    return v.is_int();
}
bool t_float(Interp&, const Value& v, Args&) {
    return v.is_float();
}
bool t_number(Interp&, const Value& v, Args&) {
    return v.is_number();
}
bool t_string(Interp&, const Value& v, Args&) {
    return v.is_string();
}
bool t_mapping(Interp&, const Value& v, Args&) {
    return v.is_dict();
}
bool t_iterable(Interp&, const Value& v, Args&) {
    return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool t_sequence(Interp&, const Value& v, Args&) {
    return v.is_string() || v.is_list() || v.is_dict();
}
bool t_callable(Interp&, const Value& v, Args&) {
    return v.is_func() || (v.is_object() && v.object()->callable());
}
bool t_escaped(Interp&, const Value& v, Args&) {
    return v.is_string() && v.safe;
}
const Value& test_arg(Args& a, const char* name) {
    if (!a.pos.empty()) return a.pos[0];
    for (const auto& [k, v] : a.kw)
        if (k == name) return v;
    fail(std::string("test needs an argument '") + name + "'");
}
bool t_sameas(Interp&, const Value& v, Args& a) {
    const Value& o = test_arg(a, "other");
    if (v.type() != o.type()) return false;
    switch (v.type()) {
        case Type::List:
            return v.list() == o.list();
        case Type::Dict:
            return v.dict() == o.dict();
        case Type::Func:
            return v.func() == o.func();
        case Type::Object:
            return v.object() == o.object();
        default:
            return py_eq(v, o);
    }
}
bool t_in(Interp& in, const Value& v, Args& a) {
    return contains(in, test_arg(a, "seq"), v);
}
bool t_odd(Interp&, const Value& v, Args&) {
    if (!v.is_integral()) fail("odd: an integer is required");
    return v.as_int() % 2 != 0;
}
bool t_even(Interp&, const Value& v, Args&) {
    if (!v.is_integral()) fail("even: an integer is required");
    return v.as_int() % 2 == 0;
}
bool t_divisibleby(Interp& in, const Value& v, Args& a) {
    Value r = binary_op(in, "%", v, test_arg(a, "num"));
    return py_eq(r, Value(0));
}
bool t_eq(Interp&, const Value& v, Args& a) {
    return py_eq(v, test_arg(a, "other"));
}
bool t_ne(Interp&, const Value& v, Args& a) {
    return !py_eq(v, test_arg(a, "other"));
}
bool t_lt(Interp&, const Value& v, Args& a) {
    return py_cmp(v, test_arg(a, "other")) < 0;
}
bool t_le(Interp&, const Value& v, Args& a) {
    return py_cmp(v, test_arg(a, "other")) <= 0;
}
bool t_gt(Interp&, const Value& v, Args& a) {
    return py_cmp(v, test_arg(a, "other")) > 0;
}
bool t_ge(Interp&, const Value& v, Args& a) {
    return py_cmp(v, test_arg(a, "other")) >= 0;
}
bool t_lower(Interp&, const Value& v, Args&) {
    std::string s = as_text(v);
    bool cased = false;
    for (char32_t c : utf8::decode(s)) {
        if (utf8::is_upper(c)) return false;
        if (utf8::is_lower(c)) cased = true;
    }
    return cased;
}
bool t_upper(Interp&, const Value& v, Args&) {
    std::string s = as_text(v);
    bool cased = false;
    for (char32_t c : utf8::decode(s)) {
        if (utf8::is_lower(c)) return false;
        if (utf8::is_upper(c)) cased = true;
    }
    return cased;
}
bool t_filter(Interp&, const Value& v, Args&) {
    return v.is_string() && find_filter(v.str()) != nullptr;
}
bool t_test(Interp&, const Value& v, Args&) {
    return v.is_string() && find_test(v.str()) != nullptr;
}

const std::unordered_map<std::string, TestFn>& tests() {
    static const std::unordered_map<std::string, TestFn> t = {
        {"defined", t_defined},
        {"undefined", t_undefined},
        {"none", t_none},
        {"boolean", t_boolean},
        {"true", t_true},
        {"false", t_false},
        {"integer", t_integer},
        {"float", t_float},
        {"number", t_number},
        {"string", t_string},
        {"mapping", t_mapping},
        {"iterable", t_iterable},
        {"sequence", t_sequence},
        {"callable", t_callable},
        {"escaped", t_escaped},
        {"sameas", t_sameas},
        {"in", t_in},
        {"odd", t_odd},
        {"even", t_even},
        {"divisibleby", t_divisibleby},
        {"eq", t_eq},
        {"equalto", t_eq},
        {"==", t_eq},
        {"ne", t_ne},
        {"!=", t_ne},
        {"lt", t_lt},
        {"lessthan", t_lt},
        {"<", t_lt},
        {"le", t_le},
        {"<=", t_le},
        {"gt", t_gt},
        {"greaterthan", t_gt},
        {">", t_gt},
        {"ge", t_ge},
        {">=", t_ge},
        {"lower", t_lower},
        {"upper", t_upper},
        {"filter", t_filter},
        {"test", t_test},
    };
    return t;
}

// ---------------------------------------------------------------- methods

Value string_method(Interp& in, const std::string& s, const std::string& name, Args& a) {
    auto sub_range = [&](const Params& p, size_t i0, size_t& b0, size_t& b1) {
        // start/end code point arguments to byte offsets
        int64_t n = static_cast<int64_t>(utf8::length(s));
        auto norm = [&](const Value& v, int64_t def) {
            if (v.is_none() || v.is_undefined()) return def;
            int64_t x = to_int_arg(v, "slice index");
            if (x < 0) x = std::max<int64_t>(0, x + n);
            return std::min(x, n);
        };
        int64_t st = norm(p.get(i0, Value::none()), 0);
        int64_t en = norm(p.get(i0 + 1, Value::none()), n);
        b0 = byte_offset(s, static_cast<size_t>(st));
        b1 = std::max(b0, byte_offset(s, static_cast<size_t>(en)));
    };
    if (name == "startswith" || name == "endswith") {
        Params p(a, name.c_str(), {"prefix", "start", "end"});
        size_t b0, b1;
        sub_range(p, 1, b0, b1);
        std::string_view view(s.data() + b0, b1 - b0);
        Value pre = p.get(0);
        std::vector<Value> cands;
        if (pre.is_list() && pre.list()->tuple)
            cands = pre.list()->items;
        else if (pre.is_string())
            cands.push_back(pre);
        else
            fail(name + " first arg must be str or a tuple of str, not " + type_name(pre));
        for (const auto& c : cands) {
            const std::string& x = str_arg(c, "prefix");
            if (name == "startswith"
                    ? view.substr(0, x.size()) == x
                    : (view.size() >= x.size() && view.substr(view.size() - x.size()) == x))
                return Value(true);
        }
        return Value(false);
    }
    if (name == "split" || name == "rsplit") {
        Params p(a, name.c_str(), {"sep", "maxsplit"});
        int64_t maxsplit = to_int_arg(p.get(1, Value(-1)), "maxsplit");
        in.charge(1 + s.size() / 64);
        auto parts = name == "split" ? py_split(s, p.get(0, Value::none()), maxsplit)
                                     : py_rsplit(s, p.get(0, Value::none()), maxsplit);
        return make_list(std::move(parts));
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        Params p(a, name.c_str(), {"chars"});
        return Value(py_strip(s, p.get(0, Value::none()), name != "rstrip", name != "lstrip"));
    }
    if (name == "replace") {
        Params p(a, "replace", {"old", "new", "count"});
        int64_t count = to_int_arg(p.get(2, Value(-1)), "count");
        return Value(py_replace(in, s, str_arg(p.get(0), "old"), str_arg(p.get(1), "new"), count));
    }
    if (name == "lower" || name == "casefold") {
        Params p(a, name.c_str(), {});
        return Value(utf8::lower(s));
    }
    if (name == "upper") {
        Params p(a, "upper", {});
        return Value(utf8::upper(s));
    }
    if (name == "title") {
        Params p(a, "title", {});
        return Value(py_title(s));
    }
    if (name == "capitalize") {
        Params p(a, "capitalize", {});
        return Value(capitalize(s));
    }
    if (name == "swapcase") {
        Params p(a, "swapcase", {});
        std::u32string u = utf8::decode(s);
        for (char32_t& c : u) c = utf8::is_upper(c) ? utf8::to_lower(c) : utf8::to_upper(c);
        return Value(utf8::encode(u));
    }
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" ||
        name == "count") {
        Params p(a, name.c_str(), {"sub", "start", "end"});
        std::string sub = str_arg(p.get(0), "substring");
        size_t b0, b1;
        sub_range(p, 1, b0, b1);
        std::string_view view(s.data() + b0, b1 - b0);
        in.charge(1 + s.size() / 64);
        if (name == "count") {
            if (sub.empty()) return Value(utf8::length(view) + 1);
            int64_t n = 0;
            for (size_t pos = view.find(sub); pos != std::string::npos;
                 pos = view.find(sub, pos + sub.size()))
                ++n;
            return Value(n);
        }
        size_t f = (name == "find" || name == "index") ? view.find(sub) : view.rfind(sub);
        if (f == std::string::npos) {
            if (name == "index" || name == "rindex") fail("substring not found");
            return Value(-1);
        }
        return Value(cp_index(s, b0 + f));
    }
    if (name == "format") return Value(str_format(in, s, a));
    if (name == "join") {
        Params p(a, "join", {"iterable"});
        std::string out;
        bool first = true;
        for (const auto& v : in.iterate(p.get(0))) {
            if (!first) out += s;
            first = false;
            out += str_arg(v, "sequence item");
            in.check_size(out.size());
        }
        return Value(std::move(out));
    }
    if (name == "isdigit" || name == "isdecimal" || name == "isnumeric" || name == "isalpha" ||
        name == "isalnum" || name == "isspace" || name == "isupper" || name == "islower") {
        Params p(a, name.c_str(), {});
        std::u32string u = utf8::decode(s);
        if (name == "isupper" || name == "islower") {
            Args none;
            return Value(name == "isupper" ? t_upper(in, Value(s), none)
                                           : t_lower(in, Value(s), none));
        }
        if (u.empty()) return Value(false);
        for (char32_t c : u) {
            bool ok = name == "isalpha"   ? utf8::is_alpha(c)
                      : name == "isalnum" ? utf8::is_alnum(c)
                      : name == "isspace" ? utf8::is_space(c)
                                          : utf8::is_digit(c);
            if (!ok) return Value(false);
        }
        return Value(true);
    }
    if (name == "splitlines") {
        Params p(a, "splitlines", {"keepends"});
        std::vector<Value> out;
        for (auto& l : splitlines(s, truthy(p.get(0, Value(false)))))
            out.emplace_back(std::move(l));
        return make_list(std::move(out));
    }
    if (name == "zfill") {
        Params p(a, "zfill", {"width"});
        int64_t w = to_int_arg(p.get(0), "width");
        int64_t len = static_cast<int64_t>(utf8::length(s));
        if (w <= len) return Value(s);
        size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
        std::string r = s;
        r.insert(sign, std::string(static_cast<size_t>(w - len), '0'));
        return Value(std::move(r));
    }
    if (name == "center" || name == "ljust" || name == "rjust") {
        Params p(a, name.c_str(), {"width", "fillchar"});
        int64_t w = to_int_arg(p.get(0), "width");
        in.check_size(static_cast<size_t>(std::max<int64_t>(0, w)));
        std::string fill = p.has(1) ? str_arg(p.get(1), "fillchar") : " ";
        return Value(pad(s, w, name == "center" ? '^' : (name == "ljust" ? '<' : '>'), fill));
    }
    if (name == "partition" || name == "rpartition") {
        Params p(a, name.c_str(), {"sep"});
        std::string sep = str_arg(p.get(0), "separator");
        if (sep.empty()) fail("empty separator");
        size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
        if (f == std::string::npos) {
            if (name == "partition") return make_list({Value(s), Value(""), Value("")}, true);
            return make_list({Value(""), Value(""), Value(s)}, true);
        }
        return make_list({Value(s.substr(0, f)), Value(sep), Value(s.substr(f + sep.size()))},
                         true);
    }
    if (name == "removeprefix" || name == "removesuffix") {
        Params p(a, name.c_str(), {"affix"});
        std::string x = str_arg(p.get(0), "affix");
        if (name == "removeprefix" && s.compare(0, x.size(), x) == 0)
            return Value(s.substr(x.size()));
        if (name == "removesuffix" && !x.empty() && s.size() >= x.size() &&
            s.compare(s.size() - x.size(), x.size(), x) == 0)
            return Value(s.substr(0, s.size() - x.size()));
        return Value(s);
    }
    fail("'str' object has no method '" + name + "'");
}

Value list_method(Interp& in, const ListPtr& l, const std::string& name, Args& a) {
    auto& items = l->items;
    if (name == "append") {
        Params p(a, "append", {"object"});
        in.charge(1);
        in.track_mutation(l);
        items.push_back(p.get(0));
        return Value::none();
    }
    if (name == "pop") {
        Params p(a, "pop", {"index"});
        if (items.empty()) fail("pop from empty list");
        int64_t n = static_cast<int64_t>(items.size());
        int64_t i = to_int_arg(p.get(0, Value(-1)), "index");
        if (i < 0) i += n;
        if (i < 0 || i >= n) fail("pop index out of range");
        Value v = items[static_cast<size_t>(i)];
        items.erase(items.begin() + i);
        return v;
    }
    if (name == "insert") {
        Params p(a, "insert", {"index", "object"});
        in.track_mutation(l);
        int64_t n = static_cast<int64_t>(items.size());
        int64_t i = to_int_arg(p.get(0), "index");
        if (i < 0) i = std::max<int64_t>(0, i + n);
        i = std::min(i, n);
        items.insert(items.begin() + i, p.get(1));
        return Value::none();
    }
    if (name == "extend") {
        Params p(a, "extend", {"iterable"});
        in.track_mutation(l);
        std::vector<Value> more = in.iterate(p.get(0));
        in.charge(more.size());
        for (auto& v : more) items.push_back(std::move(v));
        return Value::none();
    }
    if (name == "remove") {
        Params p(a, "remove", {"value"});
        Value x = p.get(0);
        for (auto it = items.begin(); it != items.end(); ++it)
            if (py_eq(*it, x)) {
                items.erase(it);
                return Value::none();
            }
        fail("list.remove(x): x not in list");
    }
    if (name == "index" || name == "count") {
        Params p(a, name.c_str(), {"value"});
        Value x = p.get(0);
        int64_t count = 0;
        for (size_t i = 0; i < items.size(); ++i)
            if (py_eq(items[i], x)) {
                if (name == "index") return Value(i);
                ++count;
            }
        if (name == "index") fail(repr(x) + " is not in list");
        return Value(count);
    }
    if (name == "reverse") {
        Params p(a, "reverse", {});
        std::reverse(items.begin(), items.end());
        return Value::none();
    }
    if (name == "sort") {
        Params p(a, "sort", {"reverse"});
        std::vector<Value> keys = items;
        sort_values(items, keys, truthy(p.get(0, Value(false))));
        return Value::none();
    }
    if (name == "copy") {
        Params p(a, "copy", {});
        return make_list(items, l->tuple);
    }
    if (name == "clear") {
        Params p(a, "clear", {});
        items.clear();
        return Value::none();
    }
    fail("'list' object has no method '" + name + "'");
}

Value dict_method(Interp& in, const DictPtr& d, const std::string& name, Args& a) {
    if (name == "get") {
        Params p(a, "get", {"key", "default"});
        if (Value* v = d->find(p.get(0))) return *v;
        return p.get(1, Value::none());
    }
    if (name == "items" || name == "keys" || name == "values") {
        Params p(a, name.c_str(), {});
        std::vector<Value> out;
        out.reserve(d->items.size());
        for (const auto& [k, v] : d->items) {
            if (name == "items")
                out.push_back(make_list({k, v}, true));
            else
                out.push_back(name == "keys" ? k : v);
        }
        in.charge(out.size() / 16);
        Value r = make_list(std::move(out));
        r.list()->view =
            name == "items" ? "dict_items" : (name == "keys" ? "dict_keys" : "dict_values");
        return r;
    }
    if (name == "pop") {
        Params p(a, "pop", {"key", "default"});
        Value key = p.get(0);
        if (Value* v = d->find(key)) {
            Value r = *v;
            d->erase(key);
            return r;
        }
        if (p.has(1)) return p.get(1);
        fail("KeyError: " + repr(key));
    }
    if (name == "setdefault") {
        Params p(a, "setdefault", {"key", "default"});
        Value key = p.get(0);
        if (Value* v = d->find(key)) return *v;
        Value def = p.get(1, Value::none());
        in.track_mutation(d);
        d->set(key, def);
        return def;
    }
    if (name == "update") {
        if (a.pos.size() > 1) fail("update expected at most 1 argument");
        in.track_mutation(d);
        if (!a.pos.empty()) {
            const Value& o = a.pos[0];
            if (o.is_dict()) {
                auto copy = o.dict()->items;
                for (auto& [k, v] : copy) d->set(k, v);
            } else {
                for (auto& pair : in.iterate(o)) {
                    auto kv = in.iterate(pair);
                    if (kv.size() != 2) fail("dictionary update sequence element has wrong length");
                    d->set(kv[0], kv[1]);
                }
            }
        }
        for (auto& [k, v] : a.kw) d->set(Value(k), v);
        return Value::none();
    }
    if (name == "copy") {
        Params p(a, "copy", {});
        auto c = std::make_shared<Dict>(*d);
        return Value(c);
    }
    if (name == "clear") {
        Params p(a, "clear", {});
        d->items.clear();
        return Value::none();
    }
    fail("'dict' object has no method '" + name + "'");
}

bool is_string_method(const std::string& n) {
    static const char* names[] = {
        "startswith",   "endswith",    "split",   "rsplit",   "strip",     "lstrip",
        "rstrip",       "replace",     "lower",   "casefold", "upper",     "title",
        "capitalize",   "swapcase",    "find",    "rfind",    "index",     "rindex",
        "count",        "format",      "join",    "isdigit",  "isdecimal", "isnumeric",
        "isalpha",      "isalnum",     "isspace", "isupper",  "islower",   "splitlines",
        "zfill",        "center",      "ljust",   "rjust",    "partition", "rpartition",
        "removeprefix", "removesuffix"};
    for (const char* x : names)
        if (n == x) return true;
    return false;
}
bool is_list_method(const std::string& n) {
    static const char* names[] = {"append", "pop",     "insert", "extend", "remove", "index",
                                  "count",  "reverse", "sort",   "copy",   "clear"};
    for (const char* x : names)
        if (n == x) return true;
    return false;
}
bool is_dict_method(const std::string& n) {
    static const char* names[] = {"get",        "items",  "keys", "values", "pop",
                                  "setdefault", "update", "copy", "clear"};
    for (const char* x : names)
        if (n == x) return true;
    return false;
}

// ---------------------------------------------------------------- globals

struct Joiner : Object {
    std::string sep;
    bool used = false;
    std::string type_name() const override { return "Joiner"; }
    Value get(const std::string& name) override {
        return Value::undefined("'Joiner object' has no attribute '" + name + "'");
    }
};

struct Cycler : Object, std::enable_shared_from_this<Cycler> {
    std::vector<Value> items;
    size_t pos = 0;
    std::string type_name() const override { return "Cycler"; }
    Value get(const std::string& name) override {
        auto self = std::static_pointer_cast<Cycler>(shared_from_this());
        if (name == "current") return items[pos];
        if (name == "next")
            return make_func("next", [self](Interp&, Args&) {
                Value v = self->items[self->pos];
                self->pos = (self->pos + 1) % self->items.size();
                return v;
            });
        if (name == "reset")
            return make_func("reset", [self](Interp&, Args&) {
                self->pos = 0;
                return Value::none();
            });
        return Value::undefined("'Cycler object' has no attribute '" + name + "'");
    }
};

Value g_range(Interp& in, Args& a) {
    if (!a.kw.empty()) fail("range() takes no keyword arguments");
    if (a.pos.empty() || a.pos.size() > 3) fail("range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1) {
        stop = to_int_arg(a.pos[0], "range() argument");
    } else {
        start = to_int_arg(a.pos[0], "range() argument");
        stop = to_int_arg(a.pos[1], "range() argument");
        if (a.pos.size() == 3) step = to_int_arg(a.pos[2], "range() argument");
    }
    if (step == 0) fail("range() arg 3 must not be zero");
    int64_t n = 0;
    if (step > 0 && start < stop) n = (stop - start + step - 1) / step;
    if (step < 0 && start > stop) n = (start - stop - step - 1) / (-step);
    if (static_cast<uint64_t>(n) > in.limits().max_range)
        fail_limit("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
                   std::to_string(in.limits().max_range) + ").");
    in.charge(static_cast<uint64_t>(n));
    std::vector<Value> out;
    out.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out.emplace_back(start + i * step);
    return make_list(std::move(out));
}

Value g_dict(Interp& in, Args& a) {
    Value d = make_dict();
    if (a.pos.size() > 1) fail("dict expected at most 1 argument");
    if (!a.pos.empty()) {
        Args u;
        u.pos.push_back(a.pos[0]);
        dict_method(in, d.dict(), "update", u);
    }
    for (auto& [k, v] : a.kw) d.dict()->set(Value(k), v);
    return d;
}

Value g_namespace(Interp& in, Args& a) {
    auto ns = std::make_shared<Namespace>();
    if (a.pos.size() > 1) fail("namespace expected at most 1 positional argument");
    if (!a.pos.empty()) {
        Value d = g_dict(in, a);
        ns->attrs = *d.dict();
        return Value(ObjectPtr(ns));
    }
    for (auto& [k, v] : a.kw) ns->attrs.set(Value(k), v);
    return Value(ObjectPtr(ns));
}

Value g_raise_exception(Interp&, Args& a) {
    std::string msg = a.pos.empty() ? std::string() : to_str(a.pos[0]);
    throw Failure{Failure::Kind::Raised, msg};
}

Value g_strftime_now(Interp& in, Args& a) {
    Params p(a, "strftime_now", {"format"});
    std::string fmt = str_arg(p.get(0), "format");
    if (fmt.empty()) return Value("");
    std::tm tm = in.now();
    std::string out(256 + fmt.size() * 8, '\0');
    size_t n = std::strftime(out.data(), out.size(), fmt.c_str(), &tm);
    if (n == 0) fail("strftime_now: the format is too long");
    out.resize(n);
    return Value(std::move(out));
}

Value g_joiner(Interp&, Args& a) {
    Params p(a, "joiner", {"sep"});
    auto j = std::make_shared<Joiner>();
    j->sep = as_text(p.get(0, Value(", ")));
    return make_func("joiner", [j](Interp&, Args&) -> Value {
        if (!j->used) {
            j->used = true;
            return Value("");
        }
        return Value(j->sep);
    });
}

Value g_cycler(Interp&, Args& a) {
    if (a.pos.empty()) fail("cycler needs at least one item");
    auto c = std::make_shared<Cycler>();
    c->items = a.pos;
    return Value(ObjectPtr(c));
}

}  // namespace

// ---------------------------------------------------------------- public helpers

FilterFn find_filter(const std::string& name) {
    auto it = filters().find(name);
    return it == filters().end() ? nullptr : it->second;
}

TestFn find_test(const std::string& name) {
    auto it = tests().find(name);
    return it == tests().end() ? nullptr : it->second;
}

Value find_global(const std::string& name) {
    using Fn = Value (*)(Interp&, Args&);
    static const std::map<std::string, Fn> globals = {
        {"range", g_range},
        {"dict", g_dict},
        {"namespace", g_namespace},
        {"raise_exception", g_raise_exception},
        {"strftime_now", g_strftime_now},
        {"joiner", g_joiner},
        {"cycler", g_cycler},
    };
    auto it = globals.find(name);
    if (it == globals.end()) return Value();
    static std::map<std::string, Value> cache;
    static std::once_flag once;
    std::call_once(once, [] {
        for (const auto& [n, f] : globals) {
            Fn fn = f;
            cache.emplace(n, make_func(n, [fn](Interp& in, Args& a) { return fn(in, a); }));
        }
    });
    return cache.at(name);
}

Value find_method(Interp&, const Value& obj, const std::string& name) {
    if (obj.is_string() && is_string_method(name)) {
        Value self = obj;
        return make_func(name, [self, name](Interp& in, Args& a) {
            return string_method(in, self.str(), name, a);
        });
    }
    if (obj.is_list() && is_list_method(name)) {
        ListPtr self = obj.list();
        return make_func(
            name, [self, name](Interp& in, Args& a) { return list_method(in, self, name, a); });
    }
    if (obj.is_dict() && is_dict_method(name)) {
        DictPtr self = obj.dict();
        return make_func(
            name, [self, name](Interp& in, Args& a) { return dict_method(in, self, name, a); });
    }
    return Value();
}

size_t py_len(const Value& v) {
    switch (v.type()) {
        case Type::Undefined:
            return 0;
        case Type::String:
            return utf8::length(v.str());
        case Type::List:
            return v.list()->items.size();
        case Type::Dict:
            return v.dict()->items.size();
        default:
            fail("object of type '" + type_name(v) + "' has no len()");
    }
}

std::string html_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

bool contains(Interp& in, const Value& container, const Value& item) {
    switch (container.type()) {
        case Type::Undefined:
            return false;
        case Type::String:
            if (!item.is_string())
                fail("'in <string>' requires string as left operand, not " + type_name(item));
            in.charge(1 + container.str().size() / 64);
            return container.str().find(item.str()) != std::string::npos;
        case Type::List: {
            auto& items = container.list()->items;
            in.charge(1 + items.size() / 16);
            for (size_t i = 0; i < items.size(); ++i)
                if (py_eq(items[i], item)) {
                    // a generator is used up to the item found
                    if (container.list()->generator)
                        items.erase(items.begin(), items.begin() + i + 1);
                    return true;
                }
            if (container.list()->generator) items.clear();
            return false;
        }
        case Type::Dict:
            return container.dict()->find(item) != nullptr;
        default:
            fail("argument of type '" + type_name(container) + "' is not iterable");
    }
}

Value slice_value(Interp& in, const Value& obj, const Value& start, const Value& stop,
                  const Value& step) {
    auto idx = [](const Value& v) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        return to_int_arg(v, "slice indices");
    };
    int64_t st = idx(step).value_or(1);
    if (st == 0) fail("slice step cannot be zero");
    auto run = [&](int64_t n, auto&& emit) {
        auto norm = [&](std::optional<int64_t> v, int64_t def_pos, int64_t def_neg) {
            if (!v) return st > 0 ? def_pos : def_neg;
            int64_t x = *v;
            if (x < 0) {
                x += n;
                if (x < 0) x = st > 0 ? 0 : -1;
            } else if (x >= n) {
                x = st > 0 ? n : n - 1;
            }
            return x;
        };
        int64_t b = norm(idx(start), 0, n - 1);
        int64_t e = norm(idx(stop), n, -1);
        if (st > 0)
            for (int64_t i = b; i < e; i += st) emit(i);
        else
            for (int64_t i = b; i > e; i += st) emit(i);
    };
    if (obj.is_string()) {
        const std::string& s = obj.str();
        std::string out;
        if (utf8::is_ascii(s)) {
            run(static_cast<int64_t>(s.size()),
                [&](int64_t i) { out.push_back(s[static_cast<size_t>(i)]); });
        } else {
            std::u32string u = utf8::decode(s);
            run(static_cast<int64_t>(u.size()),
                [&](int64_t i) { utf8::append(out, u[static_cast<size_t>(i)]); });
        }
        in.charge(1 + out.size() / 64);
        return Value(std::move(out));
    }
    if (obj.is_list()) {
        const auto& items = obj.list()->items;
        std::vector<Value> out;
        run(static_cast<int64_t>(items.size()),
            [&](int64_t i) { out.push_back(items[static_cast<size_t>(i)]); });
        in.charge(1 + out.size() / 16);
        return make_list(std::move(out), obj.list()->tuple);
    }
    fail("'" + type_name(obj) + "' object is not subscriptable");
}

Value binary_op(Interp& in, const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    const char o = op[0];
    auto unsupported = [&]() -> Value {
        fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" +
             type_name(b) + "'");
    };
    if (a.is_number() && b.is_number()) {
        bool flt = a.is_float() || b.is_float();
        if (op == "+" || op == "-" || op == "*") {
            if (!flt) {
                int64_t x = a.as_int(), y = b.as_int(), r;
                bool ovf = o == '+'   ? __builtin_add_overflow(x, y, &r)
                           : o == '-' ? __builtin_sub_overflow(x, y, &r)
                                      : __builtin_mul_overflow(x, y, &r);
                if (!ovf) return Value(r);
            }
            double x = a.as_double(), y = b.as_double();
            return Value(o == '+' ? x + y : o == '-' ? x - y : x * y);
        }
        if (op == "/") {
            if (b.as_double() == 0.0) fail(flt ? "float division by zero" : "division by zero");
            return Value(a.as_double() / b.as_double());
        }
        if (op == "//" || op == "%") {
            if (!flt) {
                int64_t x = a.as_int(), y = b.as_int();
                if (y == 0) fail("integer division or modulo by zero");
                if (x == INT64_MIN && y == -1)
                    return op == "//" ? Value(-static_cast<double>(x)) : Value(0);
                int64_t q = x / y, r = x % y;
                if (r != 0 && ((r < 0) != (y < 0))) {
                    --q;
                    r += y;
                }
                return op == "//" ? Value(q) : Value(r);
            }
            // CPython's float_divmod
            double x = a.as_double(), y = b.as_double();
            if (y == 0.0) fail(op == "//" ? "float floor division by zero" : "float modulo");
            double mod = std::fmod(x, y);
            double div = (x - mod) / y;
            if (mod != 0.0) {
                if ((y < 0) != (mod < 0)) {
                    mod += y;
                    div -= 1.0;
                }
            } else {
                mod = std::copysign(0.0, y);
            }
            if (op == "%") return Value(mod);
            double fl;
            if (div != 0.0) {
                fl = std::floor(div);
                if (div - fl > 0.5) fl += 1.0;
            } else {
                fl = std::copysign(0.0, x / y);
            }
            return Value(fl);
        }
        if (op == "**") {
            if (!flt && b.as_int() >= 0) {
                int64_t base = a.as_int(), e = b.as_int(), r = 1;
                bool ovf = false;
                while (e > 0 && !ovf) {
                    if (e & 1) ovf = __builtin_mul_overflow(r, base, &r);
                    e >>= 1;
                    if (e > 0 && !ovf) ovf = __builtin_mul_overflow(base, base, &base);
                }
                if (!ovf) return Value(r);
                return Value(std::pow(a.as_double(), b.as_double()));
            }
            if (a.as_double() == 0.0 && b.as_double() < 0)
                fail("0.0 cannot be raised to a negative power");
            return Value(std::pow(a.as_double(), b.as_double()));
        }
        return unsupported();
    }
    if (o == '+' && op.size() == 1) {
        if (a.is_string() && b.is_string()) {
            in.check_size(a.str().size() + b.str().size());
            in.charge(1 + (a.str().size() + b.str().size()) / 64);
            if (a.safe || b.safe) {
                std::string l = a.safe ? a.str() : html_escape(a.str());
                std::string r = b.safe ? b.str() : html_escape(b.str());
                return Value::markup(l + r);
            }
            return Value(a.str() + b.str());
        }
        if (a.is_list() && b.is_list() && a.list()->tuple == b.list()->tuple) {
            in.charge(2 * (a.list()->items.size() + b.list()->items.size()));
            std::vector<Value> out = a.list()->items;
            out.insert(out.end(), b.list()->items.begin(), b.list()->items.end());
            return make_list(std::move(out), a.list()->tuple);
        }
        if (a.is_string()) fail("can only concatenate str (not \"" + type_name(b) + "\") to str");
        if (a.is_list() && !a.list()->tuple)
            fail("can only concatenate list (not \"" + type_name(b) + "\") to list");
        return unsupported();
    }
    if (op == "*") {
        const Value* seq = nullptr;
        const Value* count = nullptr;
        if ((a.is_string() || a.is_list()) && b.is_integral()) {
            seq = &a;
            count = &b;
        } else if ((b.is_string() || b.is_list()) && a.is_integral()) {
            seq = &b;
            count = &a;
        }
        if (!seq) return unsupported();
        int64_t n = std::max<int64_t>(0, count->as_int());
        if (seq->is_string()) {
            const std::string& s = seq->str();
            if (n > 0 && s.size() > 0 &&
                static_cast<uint64_t>(n) > in.limits().max_output / s.size())
                fail_limit("string repetition exceeds " + std::to_string(in.limits().max_output) +
                           " bytes");
            in.charge(1 + s.size() * static_cast<uint64_t>(n) / 64);
            std::string out;
            out.reserve(s.size() * static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) out += s;
            Value r(std::move(out));
            r.safe = seq->safe;
            return r;
        }
        const auto& items = seq->list()->items;
        if (n > 0 && !items.empty() &&
            static_cast<uint64_t>(n) * items.size() > in.limits().max_range * 10)
            fail_limit("list repetition too large");
        in.charge(1 + 2 * items.size() * static_cast<uint64_t>(n));
        std::vector<Value> out;
        for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
        return make_list(std::move(out), seq->list()->tuple);
    }
    if (op == "%" && a.is_string()) return Value(percent_format(in, a.str(), b));
    return unsupported();
}

}  // namespace rs::jinja
