// The dynamic value type of the Jinja interpreter, with Python's semantics
// where chat templates depend on them: truthiness, str() and repr(),
// equality and ordering, json.dumps (the `tojson` filter), and UTF-8 strings
// measured, indexed and sliced by code point.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace rs::jinja {

class Interp;
struct Value;
struct List;
struct Dict;
struct Func;
struct Object;
using ListPtr = std::shared_ptr<List>;
using DictPtr = std::shared_ptr<Dict>;
using FuncPtr = std::shared_ptr<Func>;
using ObjectPtr = std::shared_ptr<Object>;
using StrPtr = std::shared_ptr<const std::string>;  // strings are shared, never copied

// An error while parsing or rendering. `line` 0 means "not yet known": the
// evaluator fills in the line of the innermost node that let it through.
struct Failure {
    enum class Kind { Raised, Syntax, Runtime, Limit };
    Kind kind;
    std::string message;
    int line = 0;
    int column = 0;
};
[[noreturn]] void fail(const std::string& message);        // Runtime
[[noreturn]] void fail_limit(const std::string& message);  // Limit

// The kinds, in the order of Value::Data's alternatives.
enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Func, Object };

struct Undef {
    std::shared_ptr<const std::string> hint;  // what was undefined, for the error raised on use
};

struct Value {
    using Data = std::variant<Undef, std::nullptr_t, bool, int64_t, double, StrPtr, ListPtr,
                              DictPtr, FuncPtr, ObjectPtr>;
    Data data;
    bool safe = false;  // a Markup string (`|safe`, `|escape`)

    Value() = default;
    Value(std::nullptr_t) : data(nullptr) {}
    Value(bool b) : data(b) {}
    template <typename T,
              std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Value(T v) : data(static_cast<int64_t>(v)) {}
    Value(double d) : data(d) {}
    Value(std::string s) : data(std::make_shared<const std::string>(std::move(s))) {}
    Value(const char* s) : data(std::make_shared<const std::string>(s)) {}
    Value(ListPtr l) : data(std::move(l)) {}
    Value(DictPtr d) : data(std::move(d)) {}
    Value(FuncPtr f) : data(std::move(f)) {}
    Value(ObjectPtr o) : data(std::move(o)) {}

    static Value undefined(std::string hint) {
        return Value(Data(Undef{std::make_shared<const std::string>(std::move(hint))}));
    }
    static Value none() { return Value(nullptr); }
    static Value markup(std::string s) {
        Value v(std::move(s));
        v.safe = true;
        return v;
    }

    Type type() const { return static_cast<Type>(data.index()); }
    bool is_undefined() const { return type() == Type::Undefined; }
    bool is_none() const { return type() == Type::None; }
    bool is_bool() const { return type() == Type::Bool; }
    bool is_int() const { return type() == Type::Int; }
    bool is_float() const { return type() == Type::Float; }
    bool is_number() const { return is_bool() || is_int() || is_float(); }
    bool is_integral() const { return is_bool() || is_int(); }  // usable as an index
    bool is_string() const { return type() == Type::String; }
    bool is_list() const { return type() == Type::List; }
    bool is_dict() const { return type() == Type::Dict; }
    bool is_func() const { return type() == Type::Func; }
    bool is_object() const { return type() == Type::Object; }

    bool as_bool() const { return std::get<bool>(data); }
    int64_t as_int() const;  // bool or int
    double as_double() const;
    const std::string& str() const { return *std::get<StrPtr>(data); }
    const ListPtr& list() const { return std::get<ListPtr>(data); }
    const DictPtr& dict() const { return std::get<DictPtr>(data); }
    const FuncPtr& func() const { return std::get<FuncPtr>(data); }
    const ObjectPtr& object() const { return std::get<ObjectPtr>(data); }
    std::string undefined_hint() const {
        const auto& h = std::get<Undef>(data).hint;
        return h ? *h : std::string("value is undefined");
    }

  private:
    explicit Value(Data d) : data(std::move(d)) {}
};

// Containers free their children without recursion, so a deeply nested
// value (built by a template in a loop) cannot overflow the stack.
struct List {
    std::vector<Value> items;
    bool tuple = false;  // prints as (a, b)
    bool generator =
        false;           // a Python generator (map, select, ...): always true, used up by iteration
    bool group = false;  // groupby's (grouper, list) pairs
    const char* view = nullptr;  // "dict_items", "dict_keys", "dict_values": prints as view([...])

    List() = default;
    List(const List&) = default;
    List& operator=(const List&) = default;
    ~List();
};
Value make_list(std::vector<Value> items = {}, bool tuple = false);
Value make_generator(std::vector<Value> items);

struct Dict {
    std::vector<std::pair<Value, Value>> items;  // insertion order

    Dict() = default;
    Dict(const Dict&) = default;
    Dict& operator=(const Dict&) = default;
    ~Dict();
    Value* find(const Value& key);
    Value* find(std::string_view key);
    void set(Value key, Value value);
    bool erase(const Value& key);
};
Value make_dict();

struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
};

struct Func {
    std::string name;
    std::function<Value(Interp&, Args&)> fn;
};
Value make_func(std::string name, std::function<Value(Interp&, Args&)> fn);

// Objects with attributes: namespace(), the for loop's `loop`, joiner().
struct Object {
    virtual ~Object() = default;
    virtual std::string type_name() const = 0;
    virtual Value get(const std::string& name) = 0;  // Undefined when absent
    virtual bool set(const std::string& name, Value v) { return false; }
    virtual bool callable() const { return false; }
    virtual Value call(Interp& in, Args& args);
    virtual std::string repr() const { return "<" + type_name() + " object>"; }
};

struct Namespace : Object {
    Dict attrs;
    std::string type_name() const override { return "Namespace"; }
    Value get(const std::string& name) override;
    bool set(const std::string& name, Value v) override;
};

// ---- Python semantics ----
std::string type_name(const Value& v);  // Python's type(v).__name__
bool truthy(const Value& v);
std::string to_str(const Value& v);  // str(v); undefined is ""
std::string repr(const Value& v);
std::string py_float_repr(double d);
bool py_eq(const Value& a, const Value& b);
int py_cmp(const Value& a, const Value& b);  // <0, 0, >0; throws on unorderable types
[[noreturn]] void undefined_error(const Value& undef);

struct JsonOptions {
    bool ensure_ascii = false;
    bool indent = false;
    std::string indent_str;
    std::string item_sep = ", ";
    std::string key_sep = ": ";
    bool sort_keys = false;
};
std::string to_json(const Value& v, const JsonOptions& opts);

// Converts a JSON value (nlohmann::json or ordered_json) into a Value.
Value from_json(const nlohmann::ordered_json& j, int depth = 0);
Value from_json(const nlohmann::json& j, int depth = 0);

// Nesting limit for values (conversion, repr, json, comparisons): deeper is an error.
constexpr int kMaxValueDepth = 512;

// ---- UTF-8 ----
namespace utf8 {
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view s);
void append(std::string& out, char32_t c);
bool is_ascii(std::string_view s);
size_t length(std::string_view s);  // code points
bool is_space(char32_t c);          // Python str.isspace
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
bool is_alnum(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
}  // namespace utf8

}  // namespace rs::jinja
