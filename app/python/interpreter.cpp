#include "python/interpreter.h"

#include <mutex>
#include <stdexcept>
#include <string>

#include "python/script_context.h"

#if defined(__SANITIZE_ADDRESS__)
#define RS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RS_UNDER_ASAN 1
#endif
#endif
#ifndef RS_UNDER_ASAN
#define RS_UNDER_ASAN 0
#endif

namespace rs::python {

namespace {

// What is easier said in Python: reading a script's metadata without running
// it, loading (and reloading) its code, and describing its errors.
constexpr const char* kSupportFile = "<reasonscope-support>";
constexpr const char* kSupport = R"PY(
import ast, os, sys, traceback, types

class StopSearch(BaseException):
    """Raised by a ctx call once the engine has stopped the search (budget
    spent, run cancelled). A BaseException: `except Exception` lets it by."""

class Interrupted(BaseException):
    """Raised into a script that keeps running Python code after its run's
    budget is spent or the run was cancelled."""

class MetadataError(Exception):
    pass

def _defines(tree, name):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node
    return None

def read_info(path):
    """The script's metadata as JSON text: <name>.json beside it, else its
    literal STRATEGY dict. Parses the file (syntax errors show now) but runs
    nothing."""
    with open(path, 'rb') as f:
        source = f.read()
    tree = ast.parse(source, filename=path)
    if _defines(tree, 'run') is None:
        raise MetadataError(path + ": defines no function run(ctx, params) at the top level")
    side = os.path.splitext(path)[0] + '.json'
    if os.path.isfile(side):
        with open(side, encoding='utf-8') as f:
            return f.read(), side
    node = _defines(tree, 'STRATEGY')
    if node is None:
        raise MetadataError(path + ": has no STRATEGY = {...} dict and no " +
                            os.path.basename(side) + " beside it")
    try:
        value = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise MetadataError("%s:%d: STRATEGY must be a literal dict (strings, numbers, lists, "
                            "dicts; no names or calls)" % (path, node.lineno)) from None
    if not isinstance(value, dict):
        raise MetadataError("%s:%d: STRATEGY must be a dict" % (path, node.lineno))
    import json
    return json.dumps(value), "%s:%d" % (path, node.lineno)

_loaded = {}  # path -> ((mtime_ns, size), module)

def load(path):
    """The script as a module, executed again when the file changed."""
    st = os.stat(path)
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _loaded.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with open(path, 'rb') as f:
        source = f.read()
    code = compile(source, path, 'exec', dont_inherit=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    name = 'reasonscope_strategies.' + ''.join(c if c.isalnum() else '_' for c in stem)
    module = types.ModuleType(name)
    module.__file__ = path
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.append(folder)  # a script may import helpers beside it
    sys.modules[name] = module  # (dataclasses and pickle look modules up there)
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if not callable(getattr(module, 'run', None)):
        raise MetadataError(path + ": defines no function run(ctx, params)")
    _loaded[path] = (stamp, module)
    return module

def describe(exc, tb=None):
    if tb is not None and exc.__traceback__ is None:
        exc = exc.with_traceback(tb)
    if isinstance(exc, SyntaxError) and not isinstance(exc, MetadataError):
        text = (exc.text or '').strip()
        where = '%s:%s' % (exc.filename, exc.lineno)
        return where + ': syntax error: ' + str(exc.msg) + ('\n    ' + text if text else '')
    if isinstance(exc, MetadataError):
        return str(exc)
    te = traceback.TracebackException.from_exception(exc)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if f.filename != SUPPORT_FILE])
    if isinstance(exc, Interrupted):  # where it was is the news, not the exception
        return ('Traceback (most recent call last):\n' + ''.join(te.stack.format())).rstrip()
    return ''.join(te.format()).rstrip()
)PY";

py::module_* g_support = nullptr;  // never freed: the interpreter is never finalized

void start() {
    // Inside a Python process (an extension module) the interpreter is there.
    const bool embedded = !Py_IsInitialized();
    if (embedded) {
#if RS_UNDER_ASAN
        // pymalloc's arenas are mmap'd, where LeakSanitizer does not look for
        // pointers: at exit everything they reference would count as leaked.
        PyPreConfig pre;
        PyPreConfig_InitPythonConfig(&pre);
        pre.allocator = PYMEM_ALLOCATOR_MALLOC;
        const PyStatus st = Py_PreInitialize(&pre);
        if (PyStatus_Exception(st))
            throw std::runtime_error(std::string("Python: ") + (st.err_msg ? st.err_msg : "?"));
#endif
        py::initialize_interpreter(/*init_signal_handlers=*/false);
    }
    {
        py::gil_scoped_acquire gil;
        py::module_ builtins = py::module_::import("builtins");
        py::module_ m = py::module_::import("types").attr("ModuleType")("_reasonscope_script");
        m.attr("SUPPORT_FILE") = kSupportFile;
        builtins.attr("exec")(builtins.attr("compile")(kSupport, kSupportFile, "exec"),
                              m.attr("__dict__"));
        bind_script_context(m);
        py::module_::import("sys").attr("modules")["_reasonscope_script"] = m;
        g_support = new py::module_(std::move(m));
    }
    if (embedded) PyEval_SaveThread();  // from here on, threads take the GIL when they need it
}

}  // namespace

void ensure_interpreter() {
    static std::once_flag once;
    std::call_once(once, start);
}

py::module_ support_module() {
    return *g_support;
}

std::string describe_error(py::error_already_set& e) {
    try {
        py::object value = e.value();
        if (!value) return e.what();
        py::object trace = e.trace() ? py::object(e.trace()) : py::object(py::none());
        return support_module().attr("describe")(value, trace).cast<std::string>();
    } catch (const std::exception&) {
        return e.what();
    }
}

}  // namespace rs::python
