#include "jinja_eval.h"

#include <algorithm>
#include <functional>

namespace rs::jinja {

namespace {

// The `loop` variable of a for loop (one object, advanced per iteration).
struct LoopObj : Object, std::enable_shared_from_this<LoopObj> {
    std::shared_ptr<const std::vector<Value>> items;
    size_t index0 = 0;
    int depth = 1;
    std::function<Value(Interp&, const Value&)> recurse;  // loop(children) in a recursive loop
    Value last_changed;
    bool changed_once = false;

    std::string type_name() const override { return "LoopContext"; }
    std::string repr() const override {
        return "<LoopContext " + std::to_string(index0 + 1) + "/" + std::to_string(items->size()) +
               ">";
    }
    Value get(const std::string& name) override {
        const size_t n = items->size();
        if (name == "index") return Value(index0 + 1);
        if (name == "index0") return Value(index0);
        if (name == "revindex") return Value(n - index0);
        if (name == "revindex0") return Value(n - index0 - 1);
        if (name == "first") return Value(index0 == 0);
        if (name == "last") return Value(index0 + 1 == n);
        if (name == "length") return Value(n);
        if (name == "depth") return Value(depth);
        if (name == "depth0") return Value(depth - 1);
        if (name == "previtem")
            return index0 > 0 ? (*items)[index0 - 1]
                              : Value::undefined("there is no previous item");
        if (name == "nextitem")
            return index0 + 1 < n ? (*items)[index0 + 1]
                                  : Value::undefined("there is no next item");
        if (name == "cycle") {
            auto self = std::static_pointer_cast<LoopObj>(shared_from_this());
            return make_func("loop.cycle", [self](Interp&, Args& a) -> Value {
                if (a.pos.empty()) fail("no items for cycling given");
                return a.pos[self->index0 % a.pos.size()];
            });
        }
        if (name == "changed") {
            auto self = std::static_pointer_cast<LoopObj>(shared_from_this());
            return make_func("loop.changed", [self](Interp&, Args& a) -> Value {
                Value v = make_list(a.pos);
                if (!self->changed_once || !py_eq(v, self->last_changed)) {
                    self->changed_once = true;
                    self->last_changed = v;
                    return Value(true);
                }
                return Value(false);
            });
        }
        return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
    }
    bool callable() const override { return static_cast<bool>(recurse); }
    Value call(Interp& in, Args& args) override {
        if (!recurse) fail("the loop must be marked 'recursive' to be called");
        if (args.pos.size() != 1 || !args.kw.empty()) fail("loop() takes exactly one argument");
        return recurse(in, args.pos[0]);
    }
};

}  // namespace

struct Interp::DepthGuard {
    Interp& in;
    explicit DepthGuard(Interp& i) : in(i) {
        if (++in.depth_ > in.limits_.max_depth) {
            --in.depth_;
            fail_limit("template nested too deeply at run time (more than " +
                       std::to_string(in.limits_.max_depth) +
                       " levels; recursive macro without end?)");
        }
    }
    ~DepthGuard() { --in.depth_; }
};

Interp::Interp(const Program& program, const Limits& limits, const std::tm& now)
    : program_(program), limits_(limits), now_(now) {}

Interp::~Interp() {
    for (auto& w : mutated_lists_)
        if (auto l = w.lock()) l->items.clear();
    for (auto& w : mutated_dicts_)
        if (auto d = w.lock()) d->items.clear();
    for (auto& w : mutated_objects_)
        if (auto o = w.lock())
            if (auto* ns = dynamic_cast<Namespace*>(o.get())) ns->attrs.items.clear();
}

void Interp::track_mutation(const ListPtr& l) {
    if (mutated_.insert(l.get()).second) mutated_lists_.push_back(l);
}
void Interp::track_mutation(const DictPtr& d) {
    if (mutated_.insert(d.get()).second) mutated_dicts_.push_back(d);
}
void Interp::track_mutation(const ObjectPtr& o) {
    if (mutated_.insert(o.get()).second) mutated_objects_.push_back(o);
}

void Interp::charge(uint64_t units) {
    steps_ += units;
    if (steps_ > limits_.max_steps)
        fail_limit("template exceeded its step budget (" + std::to_string(limits_.max_steps) +
                   " steps)");
}

void Interp::check_size(size_t bytes) {
    if (bytes > limits_.max_output)
        fail_limit("template output exceeds " + std::to_string(limits_.max_output) + " bytes");
}

void Interp::append(std::string& out, const std::string& s) {
    check_size(out.size() + s.size());
    charge(1 + s.size() / 64);
    out += s;
}

std::string Interp::render(const Value& context) {
    auto top = std::make_shared<Scope>();
    if (context.is_dict())
        for (const auto& [k, v] : context.dict()->items)
            if (k.is_string()) top->set(k.str(), v);
    std::string out;
    exec_body(program_.body, top, out);
    return out;
}

// ---------------------------------------------------------------- statements

Interp::Flow Interp::exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const auto& s : body) {
        Flow f = exec(*s, scope, out);
        if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
}

Interp::Flow Interp::exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
    DepthGuard g(*this);
    charge(1);
    try {
        switch (s.kind) {
            case StmtKind::Data:
                append(out, s.text);
                return Flow::Normal;
            case StmtKind::Output: {
                Value v = eval(*s.expr, scope);
                if (v.is_string())
                    append(out, v.str());
                else
                    append(out, to_str(v));
                return Flow::Normal;
            }
            case StmtKind::If:
                if (truthy(eval(*s.expr, scope))) return exec_body(s.body, scope, out);
                for (const auto& elif : s.elifs) {
                    bool hit;
                    try {
                        hit = truthy(eval(*elif->expr, scope));
                    } catch (Failure& f) {
                        if (f.line == 0) {
                            f.line = elif->line;
                            f.column = elif->column;
                        }
                        throw;
                    }
                    if (hit) return exec_body(elif->body, scope, out);
                }
                return exec_body(s.else_body, scope, out);
            case StmtKind::For:
                return exec_for(s, scope, eval(*s.expr, scope), 1, out);
            case StmtKind::Set:
                assign(*s.target, eval(*s.expr, scope), scope);
                return Flow::Normal;
            case StmtKind::SetBlock: {
                auto inner = std::make_shared<Scope>();
                inner->parent = scope;
                std::string body;
                exec_body(s.body, inner, body);
                Value v(std::move(body));
                if (s.expr) {
                    const Value* saved = filter_input_;
                    filter_input_ = &v;
                    Value r = eval(*s.expr, scope);
                    filter_input_ = saved;
                    v = std::move(r);
                }
                assign(*s.target, std::move(v), scope);
                return Flow::Normal;
            }
            case StmtKind::Macro:
                scope->set(s.text, make_macro(s, scope, s.text));
                return Flow::Normal;
            case StmtKind::CallBlock: {
                Value caller = make_macro(s, scope, "caller");
                const Expr& call = *s.expr;
                Value callee = eval(*call.kids[0], scope);
                Args args;
                eval_args(call, scope, 1, args);
                args.kw.emplace_back("caller", caller);
                Value r = this->call(callee, args);
                append(out, to_str(r));
                return Flow::Normal;
            }
            case StmtKind::FilterBlock: {
                auto inner = std::make_shared<Scope>();
                inner->parent = scope;
                std::string body;
                exec_body(s.body, inner, body);
                Value v(std::move(body));
                const Value* saved = filter_input_;
                filter_input_ = &v;
                Value r = eval(*s.expr, scope);
                filter_input_ = saved;
                append(out, to_str(r));
                return Flow::Normal;
            }
            case StmtKind::Break:
                return Flow::Break;
            case StmtKind::Continue:
                return Flow::Continue;
            case StmtKind::With: {
                auto inner = std::make_shared<Scope>();
                inner->parent = scope;
                for (const auto& [target, value] : s.assigns)
                    assign(*target, eval(*value, scope), inner);
                return exec_body(s.body, inner, out);
            }
            case StmtKind::Scope: {
                auto inner = std::make_shared<Scope>();
                inner->parent = scope;
                return exec_body(s.body, inner, out);
            }
            case StmtKind::Do:
                eval(*s.expr, scope);
                return Flow::Normal;
        }
    } catch (Failure& f) {
        if (f.line == 0) {
            f.line = s.line;
            f.column = s.column;
        }
        throw;
    }
    return Flow::Normal;
}

Interp::Flow Interp::exec_for(const Stmt& s, const ScopePtr& scope, const Value& iterable,
                              int depth, std::string& out) {
    DepthGuard g(*this);
    std::vector<Value> all = iterate(iterable);
    auto items = std::make_shared<std::vector<Value>>();
    if (s.cond) {
        for (auto& v : all) {
            charge(1);
            auto probe = std::make_shared<Scope>();
            probe->parent = scope;
            assign(*s.target, v, probe);
            if (truthy(eval(*s.cond, probe))) items->push_back(std::move(v));
        }
    } else {
        *items = std::move(all);
    }
    if (items->empty()) {
        if (!s.else_body.empty()) return exec_body(s.else_body, scope, out);
        return Flow::Normal;
    }
    auto loop = std::make_shared<LoopObj>();
    loop->items = items;
    loop->depth = depth;
    if (s.recursive) {
        std::weak_ptr<Scope> weak = scope;
        const Stmt* node = &s;
        loop->recurse = [this, node, weak, depth](Interp&, const Value& children) -> Value {
            ScopePtr outer = weak.lock();
            if (!outer) fail("recursive loop called after it ended");
            std::string text;
            exec_for(*node, outer, children, depth + 1, text);
            return Value(std::move(text));
        };
    }
    Value loop_value{ObjectPtr(loop)};
    for (size_t i = 0; i < items->size(); ++i) {
        charge(1);
        loop->index0 = i;
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        assign(*s.target, (*items)[i], inner);
        inner->set("loop", loop_value);
        Flow f = exec_body(s.body, inner, out);
        if (f == Flow::Break) break;
    }
    return Flow::Normal;
}

void Interp::assign(const Expr& target, Value v, const ScopePtr& scope) {
    switch (target.kind) {
        case ExprKind::Name:
            scope->set(target.name, std::move(v));
            return;
        case ExprKind::TupleLit: {
            std::vector<Value> parts = iterate(v);
            size_t n = target.kids.size();
            if (parts.size() > n)
                fail("too many values to unpack (expected " + std::to_string(n) + ")");
            if (parts.size() < n)
                fail("not enough values to unpack (expected " + std::to_string(n) + ", got " +
                     std::to_string(parts.size()) + ")");
            for (size_t i = 0; i < n; ++i) assign(*target.kids[i], std::move(parts[i]), scope);
            return;
        }
        case ExprKind::NSRef: {
            Value* ns = scope->lookup(target.name);
            if (!ns || !ns->is_object())
                fail("cannot assign attribute on non-namespace object '" + target.name + "'");
            ObjectPtr obj = ns->object();
            if (!obj->set(target.attr, std::move(v)))
                fail("cannot assign attribute on non-namespace object '" + target.name + "'");
            track_mutation(obj);
            return;
        }
        default:
            fail("cannot assign to this expression");
    }
}

Value Interp::make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name) {
    pinned_.push_back(scope);
    std::weak_ptr<Scope> weak = scope;
    const Stmt* node = &s;
    return make_func(name, [this, node, weak, name](Interp&, Args& args) -> Value {
        ScopePtr closure = weak.lock();
        if (!closure) fail("macro '" + name + "' called after its scope ended");
        return call_macro(*node, closure, args, name);
    });
}

Value Interp::call_macro(const Stmt& m, const ScopePtr& closure, Args& args,
                         const std::string& name) {
    DepthGuard g(*this);
    charge(1);
    auto scope = std::make_shared<Scope>();
    scope->parent = closure;
    const size_t nparams = m.params.size();
    std::vector<std::pair<std::string, Value>> kw = std::move(args.kw);
    auto take_kw = [&](const std::string& key, Value& out) {
        for (auto it = kw.begin(); it != kw.end(); ++it)
            if (it->first == key) {
                out = std::move(it->second);
                kw.erase(it);
                return true;
            }
        return false;
    };
    bool found_caller = false;
    for (size_t i = 0; i < nparams; ++i) {
        Value v;
        bool given = false;
        if (i < args.pos.size()) {
            v = args.pos[i];
            given = true;
        } else {
            given = take_kw(m.params[i], v);
            if (m.params[i] == "caller") found_caller = true;
        }
        if (!given) {
            if (m.defaults[i])
                v = eval(*m.defaults[i], scope);
            else
                v = Value::undefined("parameter '" + m.params[i] + "' was not provided");
        }
        scope->set(m.params[i], std::move(v));
    }
    if (m.uses_caller && !found_caller) {
        Value c;
        if (!take_kw("caller", c)) c = Value::undefined("No caller defined");
        scope->set("caller", std::move(c));
    }
    if (m.uses_kwargs) {
        Value d = make_dict();
        for (auto& [k, v] : kw) d.dict()->set(Value(k), std::move(v));
        kw.clear();
        scope->set("kwargs", std::move(d));
    } else if (!kw.empty()) {
        if (kw.front().first == "caller")
            fail("macro '" + name + "' was invoked with a caller but does not use it");
        fail("macro '" + name + "' takes no keyword argument '" + kw.front().first + "'");
    }
    if (m.uses_varargs) {
        std::vector<Value> extra;
        for (size_t i = nparams; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
        scope->set("varargs", make_list(std::move(extra), true));
    } else if (args.pos.size() > nparams) {
        fail("macro '" + name + "' takes not more than " + std::to_string(nparams) +
             " argument(s)");
    }
    std::string out;
    exec_body(m.body, scope, out);
    return Value(std::move(out));
}

// ---------------------------------------------------------------- expressions

Value Interp::eval(const Expr& e, const ScopePtr& scope) {
    DepthGuard g(*this);
    try {
        return eval_inner(e, scope);
    } catch (Failure& f) {
        if (f.line == 0) {
            f.line = e.line;
            f.column = e.column;
        }
        throw;
    }
}

void Interp::eval_args(const Expr& e, const ScopePtr& scope, size_t first, Args& out) {
    for (size_t i = first; i < e.kids.size(); ++i) out.pos.push_back(eval(*e.kids[i], scope));
    for (const auto& [k, v] : e.kwargs) out.kw.emplace_back(k, eval(*v, scope));
    if (e.dyn_args) {
        for (auto& v : iterate(eval(*e.dyn_args, scope))) out.pos.push_back(std::move(v));
    }
    if (e.dyn_kwargs) {
        Value d = eval(*e.dyn_kwargs, scope);
        if (!d.is_dict()) fail("argument after ** must be a mapping, not " + type_name(d));
        for (const auto& [k, v] : d.dict()->items) {
            if (!k.is_string()) fail("keywords must be strings");
            out.kw.emplace_back(k.str(), v);
        }
    }
}

Value Interp::eval_call(const Expr& e, const ScopePtr& scope) {
    Value callee = eval(*e.kids[0], scope);
    Args args;
    eval_args(e, scope, 1, args);
    return call(callee, args);
}

Value Interp::call(const Value& callee, Args& args) {
    if (callee.is_func()) {
        charge(1);
        return callee.func()->fn(*this, args);
    }
    if (callee.is_object() && callee.object()->callable()) {
        charge(1);
        return callee.object()->call(*this, args);
    }
    if (callee.is_undefined()) undefined_error(callee);
    fail("'" + type_name(callee) + "' object is not callable");
}

bool Interp::compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return py_eq(a, b);
    if (op == "!=") return !py_eq(a, b);
    if (op == "in") return contains(*this, b, a);
    if (op == "notin") return !contains(*this, b, a);
    int c = py_cmp(a, b);
    if (op == "<") return c < 0;
    if (op == "<=") return c <= 0;
    if (op == ">") return c > 0;
    return c >= 0;
}

Value Interp::eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
        case ExprKind::Const:
            return e.value;
        case ExprKind::Name: {
            if (Value* v = scope->lookup(e.name)) return *v;
            Value g = find_global(e.name);
            if (!g.is_undefined()) return g;
            return Value::undefined("'" + e.name + "' is undefined");
        }
        case ExprKind::ListLit:
        case ExprKind::TupleLit: {
            std::vector<Value> items;
            items.reserve(e.kids.size());
            for (const auto& k : e.kids) items.push_back(eval(*k, scope));
            return make_list(std::move(items), e.kind == ExprKind::TupleLit);
        }
        case ExprKind::DictLit: {
            Value d = make_dict();
            for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
                Value k = eval(*e.kids[i], scope);
                if (k.is_list() || k.is_dict()) fail("unhashable type: '" + type_name(k) + "'");
                d.dict()->set(std::move(k), eval(*e.kids[i + 1], scope));
            }
            return d;
        }
        case ExprKind::Getattr:
            return getattr(eval(*e.kids[0], scope), e.name);
        case ExprKind::Getitem: {
            Value obj = eval(*e.kids[0], scope);
            const Expr& key = *e.kids[1];
            if (key.kind == ExprKind::Slice) {
                if (obj.is_undefined()) undefined_error(obj);
                auto part = [&](int i) {
                    return key.kids[i] ? eval(*key.kids[i], scope) : Value::none();
                };
                return slice_value(*this, obj, part(0), part(1), part(2));
            }
            return getitem(obj, eval(key, scope));
        }
        case ExprKind::Slice:
            fail("a slice is only valid inside [ ]");
        case ExprKind::Call:
            return eval_call(e, scope);
        case ExprKind::Filter: {
            Value input = eval(*e.kids[0], scope);
            Args args;
            eval_args(e, scope, 1, args);
            return apply_filter(e.name, input, args);
        }
        case ExprKind::Test: {
            Value input = eval(*e.kids[0], scope);
            Args args;
            eval_args(e, scope, 1, args);
            return Value(apply_test(e.name, input, args));
        }
        case ExprKind::Not:
            return Value(!truthy(eval(*e.kids[0], scope)));
        case ExprKind::Neg:
        case ExprKind::Pos: {
            Value v = eval(*e.kids[0], scope);
            if (v.is_undefined()) undefined_error(v);
            if (!v.is_number())
                fail(std::string("bad operand type for unary ") +
                     (e.kind == ExprKind::Neg ? "-" : "+") + ": '" + type_name(v) + "'");
            if (e.kind == ExprKind::Pos) return v.is_bool() ? Value(v.as_int()) : v;
            if (v.is_float()) return Value(-v.as_double());
            return Value(-v.as_int());
        }
        case ExprKind::Binary: {
            Value a = eval(*e.kids[0], scope);
            Value b = eval(*e.kids[1], scope);
            return binary_op(*this, e.name, a, b);
        }
        case ExprKind::And: {
            Value a = eval(*e.kids[0], scope);
            if (!truthy(a)) return a;
            return eval(*e.kids[1], scope);
        }
        case ExprKind::Or: {
            Value a = eval(*e.kids[0], scope);
            if (truthy(a)) return a;
            return eval(*e.kids[1], scope);
        }
        case ExprKind::Compare: {
            Value left = eval(*e.kids[0], scope);
            for (size_t i = 0; i < e.ops.size(); ++i) {
                Value right = eval(*e.kids[i + 1], scope);
                if (!compare(e.ops[i], left, right)) return Value(false);
                left = std::move(right);
            }
            return Value(true);
        }
        case ExprKind::Concat: {
            std::string s;
            for (const auto& k : e.kids) {
                Value v = eval(*k, scope);
                s += v.is_string() ? v.str() : to_str(v);
                check_size(s.size());
            }
            charge(1 + s.size() / 64);
            return Value(std::move(s));
        }
        case ExprKind::CondExpr: {
            if (truthy(eval(*e.kids[1], scope))) return eval(*e.kids[0], scope);
            if (e.kids[2]) return eval(*e.kids[2], scope);
            return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                                    " evaluated to false and no else section was defined.");
        }
        case ExprKind::NSRef:
            fail("a namespace reference is only valid as a 'set' target");
        case ExprKind::FilterInput:
            if (!filter_input_) fail("no filter input");
            return *filter_input_;
    }
    fail("unknown expression");
}

// ---------------------------------------------------------------- access

Value Interp::getattr(const Value& obj, const std::string& name) {
    switch (obj.type()) {
        case Type::Undefined:
            undefined_error(obj);
        case Type::Object:
            return obj.object()->get(name);
        case Type::Dict: {
            Value m = find_method(*this, obj, name);
            if (!m.is_undefined()) return m;
            if (Value* v = obj.dict()->find(std::string_view(name))) return *v;
            return Value::undefined("'dict object' has no attribute '" + name + "'");
        }
        case Type::None:
            return Value::undefined("'None' has no attribute '" + name + "'");
        default: {
            if (obj.is_list() && obj.list()->group && obj.list()->items.size() == 2) {
                if (name == "grouper") return obj.list()->items[0];
                if (name == "list") return obj.list()->items[1];
            }
            Value m = find_method(*this, obj, name);
            if (!m.is_undefined()) return m;
            return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + name +
                                    "'");
        }
    }
}

Value Interp::getitem(const Value& obj, const Value& key) {
    auto missing = [&]() {
        std::string tn = obj.is_none() ? "None" : type_name(obj) + " object";
        if (key.is_string())
            return Value::undefined("'" + tn + "' has no attribute '" + key.str() + "'");
        return Value::undefined("'" + tn + "' has no element " + repr(key));
    };
    switch (obj.type()) {
        case Type::Undefined:
            undefined_error(obj);
        case Type::Dict: {
            if (Value* v = obj.dict()->find(key)) return *v;
            if (key.is_string()) {
                Value m = find_method(*this, obj, key.str());
                if (!m.is_undefined()) return m;
            }
            return missing();
        }
        case Type::List: {
            const auto& items = obj.list()->items;
            if (key.is_integral()) {
                int64_t i = key.as_int();
                int64_t n = static_cast<int64_t>(items.size());
                if (i < 0) i += n;
                if (i < 0 || i >= n) return missing();
                return items[static_cast<size_t>(i)];
            }
            if (key.is_string()) {
                Value m = find_method(*this, obj, key.str());
                if (!m.is_undefined()) return m;
            }
            return missing();
        }
        case Type::String: {
            if (key.is_integral()) {
                const std::string& s = obj.str();
                int64_t i = key.as_int();
                if (utf8::is_ascii(s)) {
                    int64_t n = static_cast<int64_t>(s.size());
                    if (i < 0) i += n;
                    if (i < 0 || i >= n) return missing();
                    return Value(std::string(1, s[static_cast<size_t>(i)]));
                }
                std::u32string u = utf8::decode(s);
                int64_t n = static_cast<int64_t>(u.size());
                if (i < 0) i += n;
                if (i < 0 || i >= n) return missing();
                std::string r;
                utf8::append(r, u[static_cast<size_t>(i)]);
                return Value(std::move(r));
            }
            if (key.is_string()) {
                Value m = find_method(*this, obj, key.str());
                if (!m.is_undefined()) return m;
            }
            return missing();
        }
        case Type::Object:
            if (key.is_string()) return obj.object()->get(key.str());
            return missing();
        default:
            return missing();
    }
}

std::vector<Value> Interp::iterate(const Value& v) {
    switch (v.type()) {
        case Type::Undefined:
            return {};
        case Type::List:
            charge(v.list()->items.size() / 16);
            if (v.list()->generator) return std::move(v.list()->items);  // used up, as in Python
            return v.list()->items;
        case Type::Dict: {
            std::vector<Value> keys;
            keys.reserve(v.dict()->items.size());
            for (const auto& kv : v.dict()->items) keys.push_back(kv.first);
            charge(keys.size() / 16);
            return keys;
        }
        case Type::String: {
            std::vector<Value> chars;
            for (char32_t c : utf8::decode(v.str())) {
                std::string s;
                utf8::append(s, c);
                chars.emplace_back(std::move(s));
            }
            charge(chars.size() / 16);
            return chars;
        }
        default:
            fail("'" + type_name(v) + "' object is not iterable");
    }
}

Value Interp::apply_filter(const std::string& name, const Value& input, Args& args) {
    FilterFn f = find_filter(name);
    if (!f) fail("no filter named '" + name + "'");
    return f(*this, input, args);
}

bool Interp::apply_test(const std::string& name, const Value& v, Args& args) {
    TestFn t = find_test(name);
    if (!t) fail("no test named '" + name + "'");
    return t(*this, v, args);
}

}  // namespace rs::jinja
