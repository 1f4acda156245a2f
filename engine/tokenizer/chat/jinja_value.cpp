#include "jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace rs::jinja {

void fail(const std::string& message) {
    throw Failure{Failure::Kind::Runtime, message};
}
void fail_limit(const std::string& message) {
    throw Failure{Failure::Kind::Limit, message};
}

int64_t Value::as_int() const {
    if (is_bool()) return as_bool() ? 1 : 0;
    return std::get<int64_t>(data);
}
double Value::as_double() const {
    if (is_float()) return std::get<double>(data);
    return static_cast<double>(as_int());
}

Value make_list(std::vector<Value> items, bool tuple) {
    auto l = std::make_shared<List>();
    l->items = std::move(items);
    l->tuple = tuple;
    return Value(std::move(l));
}
Value make_generator(std::vector<Value> items) {
    Value v = make_list(std::move(items));
    v.list()->generator = true;
    return v;
}
Value make_dict() {
    return Value(std::make_shared<Dict>());
}
Value make_func(std::string name, std::function<Value(Interp&, Args&)> fn) {
    auto f = std::make_shared<Func>();
    f->name = std::move(name);
    f->fn = std::move(fn);
    return Value(std::move(f));
}

namespace {

bool owns_container(const Value& v) {
    switch (v.type()) {
        case Type::List:
            return v.list() != nullptr;
        case Type::Dict:
            return v.dict() != nullptr;
        case Type::Object:
            return v.object() && dynamic_cast<Namespace*>(v.object().get());
        default:
            return false;
    }
}

// Moves the children of a container that `v` alone owns onto `stack`.
void take_children(Value& v, std::vector<Value>& stack) {
    auto move_from = [&](Value& c) {
        if (owns_container(c)) stack.push_back(std::move(c));
    };
    switch (v.type()) {
        case Type::List:
            if (v.list().use_count() == 1)
                for (auto& c : v.list()->items) move_from(c);
            break;
        case Type::Dict:
            if (v.dict().use_count() == 1)
                for (auto& [k, c] : v.dict()->items) move_from(c);
            break;
        case Type::Object:
            if (v.object().use_count() == 1)
                for (auto& [k, c] : static_cast<Namespace*>(v.object().get())->attrs.items)
                    move_from(c);
            break;
        default:
            break;
    }
}

void drain(std::vector<Value>& stack) {
    while (!stack.empty()) {
        Value v = std::move(stack.back());
        stack.pop_back();
        take_children(v, stack);
    }
}

}  // namespace

List::~List() {
    std::vector<Value> stack;
    for (auto& c : items)
        if (owns_container(c)) stack.push_back(std::move(c));
    drain(stack);
}

Dict::~Dict() {
    std::vector<Value> stack;
    for (auto& [k, c] : items)
        if (owns_container(c)) stack.push_back(std::move(c));
    drain(stack);
}

Value* Dict::find(const Value& key) {
    if (key.is_string()) return find(std::string_view(key.str()));
    for (auto& [k, v] : items)
        if (py_eq(k, key)) return &v;
    return nullptr;
}
Value* Dict::find(std::string_view key) {
    for (auto& [k, v] : items)
        if (k.is_string() && k.str() == key) return &v;
    return nullptr;
}
void Dict::set(Value key, Value value) {
    if (Value* v = find(key)) {
        *v = std::move(value);
        return;
    }
    items.emplace_back(std::move(key), std::move(value));
}
bool Dict::erase(const Value& key) {
    for (auto it = items.begin(); it != items.end(); ++it)
        if (py_eq(it->first, key)) {
            items.erase(it);
            return true;
        }
    return false;
}

Value Object::call(Interp&, Args&) {
    fail("'" + type_name() + "' object is not callable");
}

Value Namespace::get(const std::string& name) {
    if (Value* v = attrs.find(std::string_view(name))) return *v;
    return Value::undefined("'" + type_name() + " object' has no attribute '" + name + "'");
}
bool Namespace::set(const std::string& name, Value v) {
    attrs.set(Value(name), std::move(v));
    return true;
}

// ---------------------------------------------------------------- UTF-8

namespace utf8 {

// Invalid bytes decode to U+DC80+byte and encode back to the byte
// (Python's surrogateescape), so no input is ever altered.
std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out.push_back(c);
            ++i;
            continue;
        }
        int len = 0;
        char32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        }
        bool ok = len > 0 && i + len <= n;
        for (int k = 1; ok && k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80)
                ok = false;
            else
                cp = (cp << 6) | (cc & 0x3F);
        }
        if (ok) {
            static const char32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
        }
        if (!ok) {
            out.push_back(0xDC00 + c);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += len;
    }
    return out;
}

void append(std::string& out, char32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c >= 0xDC80 && c <= 0xDCFF) {
        out.push_back(static_cast<char>(c - 0xDC00));  // an escaped invalid byte
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

std::string encode(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) append(out, c);
    return out;
}

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

size_t length(std::string_view s) {
    if (is_ascii(s)) return s.size();
    return decode(s).size();
}

bool is_space(char32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t to_upper(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
    if (c == 0xB5) return 0x39C;
    if (c == 0xFF) return 0x178;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x131) return 'I';
        if (c == 0x17F) return 'S';
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
        if (c == 0x130 || c == 0x138 || c == 0x149) return c;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

char32_t to_lower(char32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 'i';
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

bool is_upper(char32_t c) {
    return to_lower(c) != c;
}
bool is_lower(char32_t c) {
    return to_upper(c) != c || c == 0xDF;
}
bool is_digit(char32_t c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0x100)
        return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
    if (is_space(c)) return false;
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
        (c >= 0xFF00 && c <= 0xFF20) || (c >= 0xDC80 && c <= 0xDCFF) ||
        (c >= 0x1F000 && c <= 0x1FAFF))
        return false;
    return true;
}
bool is_alnum(char32_t c) {
    return is_alpha(c) || is_digit(c);
}

std::string upper(std::string_view s) {
    if (is_ascii(s)) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        return out;
    }
    std::u32string u = decode(s);
    std::u32string r;
    r.reserve(u.size());
    for (char32_t c : u) {
        if (c == 0xDF) {  // ß
            r += U"SS";
            continue;
        }
        r.push_back(to_upper(c));
    }
    return encode(r);
}

std::string lower(std::string_view s) {
    if (is_ascii(s)) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        return out;
    }
    std::u32string u = decode(s);
    for (char32_t& c : u) c = to_lower(c);
    return encode(u);
}

}  // namespace utf8

// ---------------------------------------------------------------- Python semantics

std::string type_name(const Value& v) {
    switch (v.type()) {
        case Type::Undefined:
            return "Undefined";
        case Type::None:
            return "NoneType";
        case Type::Bool:
            return "bool";
        case Type::Int:
            return "int";
        case Type::Float:
            return "float";
        case Type::String:
            return "str";
        case Type::List:
            return v.list()->tuple ? "tuple" : "list";
        case Type::Dict:
            return "dict";
        case Type::Func:
            return "function";
        case Type::Object:
            return v.object()->type_name();
    }
    return "object";
}

bool truthy(const Value& v) {
    switch (v.type()) {
        case Type::Undefined:
        case Type::None:
            return false;
        case Type::Bool:
            return v.as_bool();
        case Type::Int:
            return v.as_int() != 0;
        case Type::Float:
            return v.as_double() != 0.0;
        case Type::String:
            return !v.str().empty();
        case Type::List:
            return !v.list()->items.empty() || v.list()->generator;
        case Type::Dict:
            return !v.dict()->items.empty();
        default:
            return true;
    }
}

std::string py_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string s(buf, res.ptr);
    std::string sign;
    if (s[0] == '-') {
        sign = "-";
        s.erase(0, 1);
    }
    size_t epos = s.find('e');
    int exp = std::atoi(s.c_str() + epos + 1);
    std::string digits;
    for (size_t i = 0; i < epos; ++i)
        if (s[i] != '.') digits.push_back(s[i]);
    int decpt = exp + 1;  // value = 0.DIGITS x 10^decpt
    std::string out;
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0)
            out = "0." + std::string(-decpt, '0') + digits;
        else if (decpt >= static_cast<int>(digits.size()))
            out = digits + std::string(decpt - digits.size(), '0') + ".0";
        else
            out = digits.substr(0, decpt) + "." + digits.substr(decpt);
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    }
    return sign + out;
}

namespace {

bool is_printable(char32_t c) {
    if (c < 0x20 || c == 0x7F) return false;
    if (c >= 0x80 && c <= 0xA0) return false;
    if (c == 0xAD) return false;
    if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
        (c >= 0x205F && c <= 0x2064) || c == 0x1680 || c == 0x3000 || c == 0xFEFF)
        return false;
    if (c >= 0xD800 && c <= 0xDFFF) return false;
    return true;
}

void repr_string(std::string& out, const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    out.push_back(quote);
    for (char32_t c : utf8::decode(s)) {
        if (c == static_cast<char32_t>(quote) || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (!is_printable(c)) {
            char b[16];
            if (c >= 0xDC80 && c <= 0xDCFF)
                std::snprintf(b, sizeof b, "\\udc%02x", static_cast<unsigned>(c & 0xFF));
            else if (c < 0x100)
                std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
            else if (c < 0x10000)
                std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
            else
                std::snprintf(b, sizeof b, "\\U%08x", static_cast<unsigned>(c));
            out += b;
        } else {
            utf8::append(out, c);
        }
    }
    out.push_back(quote);
}

void repr_into(std::string& out, const Value& v, int depth) {
    if (depth > kMaxValueDepth) fail_limit("value nested too deeply to print");
    switch (v.type()) {
        case Type::String:
            repr_string(out, v.str());
            return;
        case Type::Undefined:
            out += "Undefined";
            return;
        case Type::List: {
            const auto& l = *v.list();
            if (l.generator) {
                out += "<generator object>";
                return;
            }
            if (l.view) {
                out += l.view;
                out.push_back('(');
            }
            out.push_back(l.tuple ? '(' : '[');
            for (size_t i = 0; i < l.items.size(); ++i) {
                if (i) out += ", ";
                repr_into(out, l.items[i], depth + 1);
            }
            if (l.tuple && l.items.size() == 1) out.push_back(',');
            out.push_back(l.tuple ? ')' : ']');
            if (l.view) out.push_back(')');
            return;
        }
        case Type::Dict: {
            out.push_back('{');
            bool first = true;
            for (const auto& [k, val] : v.dict()->items) {
                if (!first) out += ", ";
                first = false;
                repr_into(out, k, depth + 1);
                out += ": ";
                repr_into(out, val, depth + 1);
            }
            out.push_back('}');
            return;
        }
        default:
            out += to_str(v);
            return;
    }
}

}  // namespace

std::string repr(const Value& v) {
    std::string out;
    repr_into(out, v, 0);
    return out;
}

std::string to_str(const Value& v) {
    switch (v.type()) {
        case Type::Undefined:
            return "";
        case Type::None:
            return "None";
        case Type::Bool:
            return v.as_bool() ? "True" : "False";
        case Type::Int:
            return std::to_string(v.as_int());
        case Type::Float:
            return py_float_repr(v.as_double());
        case Type::String:
            return v.str();
        case Type::List:
        case Type::Dict:
            return repr(v);
        case Type::Func:
            return "<function " + v.func()->name + ">";
        case Type::Object:
            return v.object()->repr();
    }
    return "";
}

void undefined_error(const Value& undef) {
    fail(undef.is_undefined() ? undef.undefined_hint() : "value is undefined");
}

namespace {

bool eq_depth(const Value& a, const Value& b, int depth) {
    if (depth > kMaxValueDepth) fail_limit("values nested too deeply to compare");
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case Type::Undefined:
        case Type::None:
            return true;
        case Type::String:
            return a.str() == b.str();
        case Type::List: {
            const auto& x = *a.list();
            const auto& y = *b.list();
            if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
            for (size_t i = 0; i < x.items.size(); ++i)
                if (!eq_depth(x.items[i], y.items[i], depth + 1)) return false;
            return true;
        }
        case Type::Dict: {
            auto& x = *a.dict();
            auto& y = *b.dict();
            if (x.items.size() != y.items.size()) return false;
            for (const auto& [k, v] : x.items) {
                Value* o = y.find(k);
                if (!o || !eq_depth(v, *o, depth + 1)) return false;
            }
            return true;
        }
        case Type::Func:
            return a.func() == b.func();
        case Type::Object:
            return a.object() == b.object();
        default:
            return false;
    }
}

int cmp_depth(const Value& a, const Value& b, int depth) {
    if (depth > kMaxValueDepth) fail_limit("values nested too deeply to compare");
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            double x = a.as_double(), y = b.as_double();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.as_int(), y = b.as_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        int c = a.str().compare(b.str());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_list() && b.is_list() && a.list()->tuple == b.list()->tuple) {
        const auto& x = a.list()->items;
        const auto& y = b.list()->items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (eq_depth(x[i], y[i], depth + 1)) continue;
            return cmp_depth(x[i], y[i], depth + 1);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    fail("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) +
         "'");
}

// JSON's two-character escape of c, or null (Python's json.dumps table).
static const char* json_short_escape(char32_t c) {
    switch (c) {
        case '"':
            return "\\\"";
        case '\\':
            return "\\\\";
        case '\n':
            return "\\n";
        case '\r':
            return "\\r";
        case '\t':
            return "\\t";
        case '\b':
            return "\\b";
        case '\f':
            return "\\f";
        default:
            return nullptr;
    }
}

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out.push_back('"');
    auto esc = [&](unsigned c) {
        char b[16];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        out += b;
    };
    if (!ensure_ascii) {
        for (char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            if (const char* e = json_short_escape(c))
                out += e;
            else if (c < 0x20)
                esc(c);
            else
                out.push_back(ch);
        }
    } else {
        for (char32_t c : utf8::decode(s)) {
            if (const char* e = json_short_escape(c)) {
                out += e;
            } else if (c >= 0x10000) {  // a surrogate pair
                const char32_t v = c - 0x10000;
                esc(0xD800 + (v >> 10));
                esc(0xDC00 + (v & 0x3FF));
            } else if (c < 0x20 || c > 0x7E) {
                esc(c);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
    }
    out.push_back('"');
}

std::string json_float(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return py_float_repr(d);
}

void json_into(std::string& out, const Value& v, const JsonOptions& o, int level) {
    if (level > kMaxValueDepth) fail_limit("value nested too deeply for tojson");
    auto newline = [&](int lvl) {
        out.push_back('\n');
        for (int i = 0; i < lvl; ++i) out += o.indent_str;
    };
    switch (v.type()) {
        case Type::None:
            out += "null";
            return;
        case Type::Bool:
            out += v.as_bool() ? "true" : "false";
            return;
        case Type::Int:
            out += std::to_string(v.as_int());
            return;
        case Type::Float:
            out += json_float(v.as_double());
            return;
        case Type::String:
            json_string(out, v.str(), o.ensure_ascii);
            return;
        case Type::List: {
            const auto& items = v.list()->items;
            if (items.empty()) {
                out += "[]";
                return;
            }
            out.push_back('[');
            if (o.indent) newline(level + 1);
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) {
                    out += o.item_sep;
                    if (o.indent) newline(level + 1);
                }
                json_into(out, items[i], o, level + 1);
            }
            if (o.indent) newline(level);
            out.push_back(']');
            return;
        }
        case Type::Dict: {
            const auto& src = v.dict()->items;
            if (src.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<Value, Value>*> items;
            for (const auto& kv : src) items.push_back(&kv);
            if (o.sort_keys)
                std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) {
                    return cmp_depth(a->first, b->first, 0) < 0;
                });
            out.push_back('{');
            if (o.indent) newline(level + 1);
            bool first = true;
            for (const auto* kv : items) {
                if (!first) {
                    out += o.item_sep;
                    if (o.indent) newline(level + 1);
                }
                first = false;
                const Value& k = kv->first;
                std::string key;
                switch (k.type()) {
                    case Type::String:
                        key = k.str();
                        break;
                    case Type::Int:
                        key = std::to_string(k.as_int());
                        break;
                    case Type::Float:
                        key = json_float(k.as_double());
                        break;
                    case Type::Bool:
                        key = k.as_bool() ? "true" : "false";
                        break;
                    case Type::None:
                        key = "null";
                        break;
                    default:
                        fail("keys must be str, int, float, bool or None, not " + type_name(k));
                }
                json_string(out, key, o.ensure_ascii);
                out += o.key_sep;
                json_into(out, kv->second, o, level + 1);
            }
            if (o.indent) newline(level);
            out.push_back('}');
            return;
        }
        default:
            fail("Object of type " + type_name(v) + " is not JSON serializable");
    }
}

template <typename J>
Value from_json_impl(const J& j, int depth) {
    if (depth > kMaxValueDepth) fail_limit("context value nested too deeply");
    switch (j.type()) {
        case nlohmann::json::value_t::null:
            return Value::none();
        case nlohmann::json::value_t::boolean:
            return Value(j.template get<bool>());
        case nlohmann::json::value_t::number_integer:
            return Value(j.template get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            uint64_t u = j.template get<uint64_t>();
            if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
            return Value(static_cast<int64_t>(u));
        }
        case nlohmann::json::value_t::number_float:
            return Value(j.template get<double>());
        case nlohmann::json::value_t::string:
            return Value(j.template get<std::string>());
        case nlohmann::json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json_impl(e, depth + 1));
            return make_list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            Value d = make_dict();
            for (auto it = j.begin(); it != j.end(); ++it)
                d.dict()->items.emplace_back(Value(it.key()),
                                             from_json_impl(it.value(), depth + 1));
            return d;
        }
        default:
            return Value::none();
    }
}

}  // namespace

bool py_eq(const Value& a, const Value& b) {
    return eq_depth(a, b, 0);
}
int py_cmp(const Value& a, const Value& b) {
    return cmp_depth(a, b, 0);
}

std::string to_json(const Value& v, const JsonOptions& opts) {
    std::string out;
    json_into(out, v, opts, 0);
    return out;
}

Value from_json(const nlohmann::ordered_json& j, int depth) {
    return from_json_impl(j, depth);
}
Value from_json(const nlohmann::json& j, int depth) {
    return from_json_impl(j, depth);
}

}  // namespace rs::jinja
