// `import reasonscope`: the engine from Python. Open a model, run any
// strategy (C++ plugin or Python script) on a prompt or a suite's task, get
// the tree as Python objects; open a run store, list and load its runs.
//
//   import reasonscope
//   m = reasonscope.open_model()                       # the bundled model
//   r = m.run("Q: 13+7*4\n", "self-consistency", {"n": 4},
//             answer_pattern=r"Answer:\s*(-?\d+)", expected="41")
//   r.status, r.answer, r.tree[r.chosen_node].path_text
//   store = reasonscope.open_store("runs.sqlite")
//   store.runs(strategy="self-consistency"), store.load(7).tree
//
// The engine runs without the GIL. Strategies come from the plugin folder
// of the tree this module is in (the build tree's lib/reasonscope/plugins,
// or an installed tree's, the module being in lib/python3/dist-packages)
// and the usual ones (PluginManager::default_dirs()).
#include <dlfcn.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <QDir>
#include <QFileInfo>
#include <filesystem>
#include <memory>
#include <mutex>

#include "core/resources.h"
#include "core/run_service.h"
#include "core/session_options.h"
#include "plugins/plugin_manager.h"
#include "python/bindings_common.h"
#include "python/interpreter.h"
#include "reasonscope/error.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"

namespace py = pybind11;
using namespace rs;

namespace {

std::string module_dir() {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&module_dir), &info) || !info.dli_fname) return {};
    return std::filesystem::path(info.dli_fname).parent_path().string();
}

// One plugin manager for the process, scanned on first use.
const app::PluginManager& plugins() {
    static app::PluginManager* pm = nullptr;
    static std::once_flag once;
    std::call_once(once, [] {
        auto* m = new app::PluginManager();  // lives as long as the process (plugins stay loaded)
        QStringList dirs;
        const std::string here = module_dir();
        // The build tree's (<build>/python), or an installed tree's
        // (<prefix>/lib/python3/dist-packages).
        if (!here.empty())
            for (const char* rel : {"../lib/reasonscope/plugins", "../../reasonscope/plugins"}) {
                const QString d = QDir(QString::fromStdString(here)).absoluteFilePath(rel);
                if (QFileInfo(d).isDir()) dirs << d;
            }
        for (const QString& d : app::PluginManager::default_dirs()) {
            const QString canon = QFileInfo(d).canonicalFilePath();
            bool seen = false;
            for (const QString& x : dirs) seen = seen || QFileInfo(x).canonicalFilePath() == canon;
            if (!seen) dirs << d;
        }
        m->scan(dirs);
        pm = m;
    });
    return *pm;
}

using python::json_to_py;
using python::metrics_dict;
using python::py_to_json;

py::dict row_dict(const RunRow& r) {
    py::dict d;
    d["id"] = r.id;
    d["name"] = r.name;
    d["created_at"] = r.created_at;
    d["finished_at"] = r.finished_at;
    d["status"] = r.status;
    d["status_reason"] = r.status_reason;
    d["error"] = r.error;
    d["model_path"] = r.model_path;
    d["model_name"] = r.model_name;
    d["backend"] = r.backend;
    d["strategy"] = r.strategy;
    d["params"] = json_to_py(nlohmann::json::parse(r.params.empty() ? "{}" : r.params));
    d["suite"] = r.suite;
    d["task_id"] = r.task_id;
    d["prompt"] = r.prompt;
    d["expected"] = r.expected;
    d["seed"] = r.seed;
    d["answer"] = r.answer;
    d["chosen_node"] = r.chosen_node;
    d["correct"] = r.correct;
    d["tokens"] = r.tokens;
    d["forward_passes"] = r.forward_passes;
    d["node_count"] = r.node_count;
    d["wall_seconds"] = r.wall_seconds;
    d["tags"] = r.tags;
    return d;
}

using TreePtr = std::shared_ptr<const ReasoningTree>;

// A node of a finished tree (a copy the tree object owns).
struct TreeNode {
    TreePtr tree;
    int id;
    const Node& get() const { return tree->at(id); }
};

TreeNode tree_node(const TreePtr& t, int id) {
    if (id < 0) id += t->size();
    if (id < 0 || id >= t->size())
        throw py::index_error("node " + std::to_string(id) + " is not in the tree (" +
                              std::to_string(t->size()) + " nodes)");
    return {t, id};
}

// A finished run, as Python sees it (the search context is gone; the tree
// and the outcome are copies).
struct RunView {
    std::string status, error, answer;
    int correct = -1, chosen_node = -1;
    int64_t run_id = 0;
    RunMetrics metrics;
    nlohmann::json params;
    TreePtr tree;
};

class PyModel {
  public:
    PyModel(const std::string& path, int threads) : threads_(threads) {
        const std::string p = app::model_path_or_default(path);
        py::gil_scoped_release nogil;
        model_ = Model::load(p);
    }

    RunView run(const std::string& prompt, const std::string& strategy, const py::object& params,
                uint64_t seed, const std::string& task_ref, const std::string& answer_pattern,
                const std::string& expected, int64_t max_tokens, double max_seconds,
                py::object store) {
        app::RunRequest req;
        if (!task_ref.empty()) {
            app::TaskRef ref = app::resolve_task_ref(task_ref);
            req.task = std::move(ref.task);
            req.suite = ref.suite_path;
        } else {
            if (prompt.empty()) throw Error("run: give a prompt or task=\"SUITE:ID\"");
            req.task = Task{"prompt", prompt, expected, answer_pattern};
        }
        req.strategy = strategy;
        if (!params.is_none()) {
            const nlohmann::json given = py_to_json(params);
            for (const auto& [k, v] : given.items())
                req.sets.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
        }
        req.seed = seed;
        req.config.max_tokens = max_tokens;
        req.config.max_seconds = max_seconds;
        app::RunOptions opt;
        if (!store.is_none()) opt.store = store.cast<RunStore*>();
        RunView v;
        {
            py::gil_scoped_release nogil;
            LocalGenerator gen(*model_, app::search_session_options(threads_));
            app::RunResult res = app::run_and_record(*model_, gen, plugins(), req, opt);
            v.status = res.outcome.status;
            v.error = res.outcome.error;
            v.answer = res.outcome.answer;
            v.correct = res.outcome.correct;
            v.chosen_node = res.chosen_node();
            v.run_id = res.run_id;
            v.metrics = res.outcome.metrics;
            v.params = res.params;
            v.tree = std::make_shared<const ReasoningTree>(res.tree());
        }
        return v;
    }

    std::string path() const { return model_->path(); }

  private:
    std::unique_ptr<Model> model_;
    int threads_;
};

}  // namespace

PYBIND11_MODULE(reasonscope, m) {
    m.doc() = "Reasonscope: inference-time search on local GGUF models";
    python::ensure_interpreter();  // the Token and Vote types, script strategies

    py::register_exception<Error>(m, "Error", PyExc_RuntimeError);

    m.def(
        "strategies",
        [] {
            py::list out;
            for (const auto& e : plugins().strategies()) {
                py::dict d = json_to_py(strategy_info_to_json(e.info));
                d["path"] = e.path.toStdString();
                out.append(d);
            }
            return out;
        },
        "every strategy found (C++ plugins and Python scripts), with its parameters");
    m.def("plugin_errors", [] {
        py::list out;
        for (const auto& e : plugins().errors())
            out.append(py::make_tuple(e.path.toStdString(), e.message.toStdString()));
        return out;
    });

    py::class_<TreeNode> node(m, "Node", "A node (reasoning step) of a finished tree.");
    python::bind_node_fields(node, [](const TreeNode& n) { return n.tree->path_text(n.id); });

    py::class_<ReasoningTree, std::shared_ptr<ReasoningTree>>(m, "Tree", "A reasoning tree.")
        .def("__len__", &ReasoningTree::size)
        .def("__getitem__",
             [](const std::shared_ptr<ReasoningTree>& t, int id) { return tree_node(t, id); })
        .def("__iter__",
             [](const std::shared_ptr<ReasoningTree>& t) {
                 py::list all;
                 for (int i = 0; i < t->size(); ++i) all.append(TreeNode{t, i});
                 return py::iter(all);
             })
        .def("leaves", &ReasoningTree::leaves)
        .def("path", [](const std::shared_ptr<ReasoningTree>& t,
                        int id) { return t->path(tree_node(t, id).id); })
        .def("path_text", [](const std::shared_ptr<ReasoningTree>& t,
                             int id) { return t->path_text(tree_node(t, id).id); })
        .def_property_readonly("max_depth", &ReasoningTree::max_depth);

    py::class_<RunView>(m, "Run", "A finished run: outcome and tree.")
        .def_readonly("status", &RunView::status)
        .def_readonly("error", &RunView::error)
        .def_readonly("answer", &RunView::answer)
        .def_readonly("correct", &RunView::correct)
        .def_readonly("chosen_node", &RunView::chosen_node)
        .def_readonly("run_id", &RunView::run_id, "the stored run's id (0: not stored)")
        .def_property_readonly("metrics", [](const RunView& r) { return metrics_dict(r.metrics); })
        .def_property_readonly("params", [](const RunView& r) { return json_to_py(r.params); })
        .def_property_readonly(
            "tree", [](const RunView& r) { return std::const_pointer_cast<ReasoningTree>(r.tree); })
        .def("__repr__", [](const RunView& r) {
            return "<Run " + r.status +
                   " answer=" + py::repr(py::str(r.answer)).cast<std::string>() +
                   " nodes=" + std::to_string(r.tree->size()) + ">";
        });

    py::class_<RunStore>(m, "Store", "A run store (SQLite).")
        .def_property_readonly("path", &RunStore::path)
        .def(
            "runs",
            [](const RunStore& s, const std::string& strategy, const std::string& status,
               const std::string& tag, int limit) {
                RunFilter f;
                f.strategy = strategy;
                f.status = status;
                f.tag = tag;
                f.limit = limit;
                py::list out;
                for (const RunRow& r : s.list(f)) out.append(row_dict(r));
                return out;
            },
            py::arg("strategy") = "", py::arg("status") = "", py::arg("tag") = "",
            py::arg("limit") = 0, "stored runs (rows as dicts), newest first")
        .def(
            "load",
            [](const RunStore& s, int64_t id) {
                StoredRun run = s.load(id);
                py::dict d;
                d["run"] = row_dict(run.run);
                d["tree"] = std::make_shared<ReasoningTree>(std::move(run.tree));
                return d;
            },
            py::arg("id"), "a stored run: {'run': row dict, 'tree': Tree}");
    m.def(
        "open_store",
        [](const std::string& path, bool read_only) {
            return read_only ? RunStore::open_read_only(path) : RunStore::open(path);
        },
        py::arg("path") = RunStore::default_path(), py::arg("read_only") = false);

    py::class_<PyModel>(m, "Model", "A GGUF model on the local engine.")
        .def_property_readonly("path", &PyModel::path)
        .def("run", &PyModel::run, py::arg("prompt") = "", py::arg("strategy") = "chain-of-thought",
             py::arg("params") = py::none(), py::kw_only(), py::arg("seed") = 42,
             py::arg("task") = "", py::arg("answer_pattern") = "", py::arg("expected") = "",
             py::arg("max_tokens") = 0, py::arg("max_seconds") = 0.0, py::arg("store") = py::none(),
             "runs a strategy on a prompt (or task=\"SUITE:ID\"); params: {name: value}; "
             "store: a Store to record the run in");
    m.def(
        "open_model",
        [](const std::string& path, int threads) {
            return std::make_unique<PyModel>(path, threads);
        },
        py::arg("path") = "", py::arg("threads") = 1,
        "opens a GGUF model (default: the bundled one)");
}
