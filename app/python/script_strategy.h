// Strategies written as Python scripts (docs/plugin-guide.md, "Python
// strategies"): a `.py` file with `def run(ctx, params)` and its metadata in
// a literal `STRATEGY = {...}` dict (or `<name>.json` beside it), the same
// fields as a C++ plugin's JSON. CPython is embedded, started on first use;
// a script runs against the run's SearchContext through `ctx`, so events,
// the store and reports see no difference. The file is read again whenever
// it changed, so an edit takes effect at the next run.
#pragma once

#include <memory>
#include <string>

#include "reasonscope/strategy.h"

namespace rs::python {

// Whether the plugin manager should take `path` for a script: "*.py", not
// starting with '_' (helpers a script imports, __init__.py).
bool is_strategy_script(const std::string& path);

// The script's metadata, read without running it. Throws rs::Error naming
// the file (and the line, for a syntax error or a non-literal STRATEGY).
StrategyInfo read_script_info(const std::string& path);

// A strategy that loads the script (again, when the file changed) and calls
// its run(ctx, params) each time it runs. A script that raises fails the run
// with its traceback; one still running Python after its run's budget is
// spent (or after a cancel) is interrupted.
std::unique_ptr<Strategy> make_script_strategy(const std::string& path);

}  // namespace rs::python
