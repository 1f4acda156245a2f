// `ctx`, as a Python script sees it: the run's SearchContext, wrapped call for
// call (docs/plugin-guide.md lists them). Node ids are checked before they
// reach the engine (IndexError naming the id and the tree's size); every call
// that runs the engine releases the GIL; a call made after the engine stopped
// the search raises StopSearch (a BaseException, so `except Exception` in a
// script does not swallow it). Once the run is over the object refuses every
// call (a script may have kept it).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "python/interpreter.h"
#include "python/run_guard.h"
#include "reasonscope/search.h"

namespace rs::python {

struct ScriptContext {
    SearchContext* ctx = nullptr;  // null once the run is over
    RunGuard* guard = nullptr;
    py::object params;       // dict
    std::string run_scorer;  // params["scorer"] when the strategy has one
    std::map<std::string, std::unique_ptr<Scorer>> scorers;  // made on first use, by id

    SearchContext& live() const;           // throws RuntimeError once the run is over
    int check_node(int id) const;          // throws IndexError for an id not in the tree
    Scorer& scorer(const py::object& id);  // None: the run's scorer
};

// Adds the Node, Token, Vote and Context classes to the support module.
void bind_script_context(py::module_& m);

}  // namespace rs::python
