// The Jinja evaluator: statements write to an output string, expressions
// evaluate to Values. Scoping follows Jinja2: a for-loop iteration and a
// macro call are new scopes (a `set` inside them does not leak out; that is
// what namespace() is for), `if` is not.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "jinja_ast.h"
#include "jinja_value.h"

namespace rs::jinja {

struct Limits {
    size_t max_output = size_t(64) << 20;  // bytes of any one string or output
    uint64_t max_steps = 20'000'000;       // statements, loop iterations, items touched
    int max_depth = 600;                   // nested evaluation (macro recursion included)
    size_t max_range = 100000;             // range() length, as Jinja's sandbox
};

struct Scope {
    std::shared_ptr<Scope> parent;
    std::vector<std::pair<std::string, Value>> vars;

    Value* find_local(const std::string& name) {
        for (auto& [k, v] : vars)
            if (k == name) return &v;
        return nullptr;
    }
    Value* lookup(const std::string& name) {
        for (Scope* s = this; s; s = s->parent.get())
            if (Value* v = s->find_local(name)) return v;
        return nullptr;
    }
    void set(const std::string& name, Value v) {
        if (Value* old = find_local(name))
            *old = std::move(v);
        else
            vars.emplace_back(name, std::move(v));
    }
};
using ScopePtr = std::shared_ptr<Scope>;

class Interp {
  public:
    Interp(const Program& program, const Limits& limits, const std::tm& now);
    ~Interp();

    std::string render(const Value& context);

    // For the builtins.
    Value call(const Value& callee, Args& args);
    Value apply_filter(const std::string& name, const Value& input, Args& args);
    bool apply_test(const std::string& name, const Value& v, Args& args);
    Value getattr(const Value& obj, const std::string& name);  // obj.name
    Value getitem(const Value& obj, const Value& key);         // obj[key]
    std::vector<Value> iterate(const Value& v);                // for x in v
    void charge(uint64_t units);                               // step budget
    void check_size(size_t bytes);                             // output / string limit
    // Containers changed in place (append, update, namespace attributes)
    // can hold themselves; they are emptied when the render ends so that
    // reference cycles do not leak.
    void track_mutation(const ListPtr& l);
    void track_mutation(const DictPtr& d);
    void track_mutation(const ObjectPtr& o);
    const std::tm& now() const { return now_; }
    const Limits& limits() const { return limits_; }

  private:
    enum class Flow { Normal, Break, Continue };
    struct DepthGuard;

    const Program& program_;
    Limits limits_;
    std::tm now_;
    uint64_t steps_ = 0;
    int depth_ = 0;
    const Value* filter_input_ = nullptr;
    std::vector<ScopePtr> pinned_;  // scopes that macros close over
    std::unordered_set<const void*> mutated_;
    std::vector<std::weak_ptr<List>> mutated_lists_;
    std::vector<std::weak_ptr<Dict>> mutated_dicts_;
    std::vector<std::weak_ptr<Object>> mutated_objects_;

    Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
    Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out);
    Flow exec_for(const Stmt& s, const ScopePtr& scope, const Value& iterable, int depth,
                  std::string& out);
    void assign(const Expr& target, Value v, const ScopePtr& scope);
    Value make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name);
    Value call_macro(const Stmt& m, const ScopePtr& closure, Args& args, const std::string& name);
    void append(std::string& out, const std::string& s);

    Value eval(const Expr& e, const ScopePtr& scope);
    Value eval_inner(const Expr& e, const ScopePtr& scope);
    void eval_args(const Expr& e, const ScopePtr& scope, size_t first, Args& out);
    Value eval_call(const Expr& e, const ScopePtr& scope);
    bool compare(const std::string& op, const Value& a, const Value& b);
};

// ---- builtins (jinja_builtins.cpp)
using FilterFn = Value (*)(Interp&, const Value& input, Args& args);
using TestFn = bool (*)(Interp&, const Value& v, Args& args);
FilterFn find_filter(const std::string& name);
TestFn find_test(const std::string& name);
Value find_global(const std::string& name);                                // Undefined when none
Value find_method(Interp& in, const Value& obj, const std::string& name);  // Undefined when none
Value binary_op(Interp& in, const std::string& op, const Value& a, const Value& b);
bool contains(Interp& in, const Value& container, const Value& item);
Value slice_value(Interp& in, const Value& obj, const Value& start, const Value& stop,
                  const Value& step);
size_t py_len(const Value& v);
std::string html_escape(const std::string& s);

}  // namespace rs::jinja
