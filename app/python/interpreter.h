// The embedded CPython: started once per process, on first use, by whichever
// thread gets there first; after that no thread holds the GIL until it takes
// it (py::gil_scoped_acquire), so the CLI's main thread and the GUI's engine
// thread can both run scripts. Never finalized: objects scripts leave behind
// die with the process.
#pragma once

#include <pybind11/embed.h>

#include <string>

namespace rs::python {

namespace py = pybind11;

// Starts the interpreter (without Python's own signal handlers: the CLI
// keeps its SIGINT/SIGTERM handling) and registers the `_reasonscope_script`
// module (the ctx types, the support functions). Thread-safe.
void ensure_interpreter();

// The support module (GIL held).
py::module_ support_module();

// A Python error in words (GIL held): a syntax error as "file:line: syntax
// error: message" and the offending line; anything else as Python prints its
// traceback ("Traceback ... File "x.py", line 3, in run ... ValueError: ...").
std::string describe_error(py::error_already_set& e);

}  // namespace rs::python
