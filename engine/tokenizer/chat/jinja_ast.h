// The Jinja syntax tree: expressions and statements, as Jinja2's parser
// builds them (precedence, filters and tests bind as in Jinja2 3.1).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja_value.h"

namespace rs::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
    Const,        // value
    Name,         // name
    ListLit,      // kids
    TupleLit,     // kids
    DictLit,      // kids: key, value, key, value...
    Getattr,      // kids[0] . name
    Getitem,      // kids[0] [ kids[1] ]
    Slice,        // kids[0..2]: start, stop, step (each may be null)
    Call,         // kids[0] ( kids[1..], kwargs, *dyn_args, **dyn_kwargs )
    Filter,       // kids[0] | name ( kids[1..], kwargs )
    Test,         // kids[0] is name ( kids[1..], kwargs )
    Not,          // not kids[0]
    Neg,          // - kids[0]
    Pos,          // + kids[0]
    Binary,       // kids[0] name kids[1]: + - * / // % **
    And,          // kids[0] and kids[1]
    Or,           // kids[0] or kids[1]
    Compare,      // kids[0] ops[0] kids[1] ops[1] kids[2] ...
    Concat,       // kids joined with ~
    CondExpr,     // kids: then, test, else (may be null)
    NSRef,        // name . attr, only as an assignment target
    FilterInput,  // the body of {% filter %} / {% set x | f %}
};

struct Expr {
    ExprKind kind;
    int line = 0;
    int column = 0;
    int depth = 1;  // height of this subtree
    Value value;
    std::string name;
    std::string attr;
    std::vector<ExprPtr> kids;
    std::vector<std::string> ops;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    ExprPtr dyn_args, dyn_kwargs;
};

enum class StmtKind {
    Data,         // text
    Output,       // {{ expr }}
    If,           // expr, body, elifs (each an If: expr, body), else_body
    For,          // target in expr [if cond], body, else_body
    Set,          // target = expr
    SetBlock,     // target [| expr filter] body
    Macro,        // text = name, params/defaults, body
    CallBlock,    // expr = the call, params/defaults of caller, body
    FilterBlock,  // expr = filter chain on FilterInput, body
    Break,
    Continue,
    With,   // assigns, body
    Scope,  // {% generation %} body
    Do,     // {% do expr %}
};

struct Stmt {
    StmtKind kind;
    int line = 0;
    int column = 0;
    std::string text;
    ExprPtr expr;
    ExprPtr target;
    ExprPtr cond;
    Body body;
    Body else_body;
    Body elifs;
    std::vector<std::string> params;
    std::vector<ExprPtr> defaults;  // one per param, null where none
    std::vector<std::pair<ExprPtr, ExprPtr>> assigns;
    bool recursive = false;  // for ... recursive
    bool uses_caller = false;
    bool uses_varargs = false;
    bool uses_kwargs = false;
};

struct Program {
    Body body;
};

// Parses template source (Hugging Face's settings: trim_blocks,
// lstrip_blocks, loop controls, {% generation %}). Throws Failure (Syntax).
std::shared_ptr<const Program> parse_template(const std::string& source);

}  // namespace rs::jinja
