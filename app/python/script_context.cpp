#include "python/script_context.h"

#include <pybind11/stl.h>

#include <optional>
#include <type_traits>

#include "python/bindings_common.h"
#include "reasonscope/strategy.h"

namespace rs::python {

namespace {

[[noreturn]] void py_raise(PyObject* type, const std::string& message) {
    PyErr_SetString(type, message.c_str());
    throw py::error_already_set();
}

[[noreturn]] void raise_stop() {
    py_raise(support_module().attr("StopSearch").ptr(),
             "the search was stopped (its budget is spent or the run was cancelled)");
}

// Runs f(engine) without the GIL; the watchdog knows the script is out of
// Python meanwhile. SearchStopped (the engine refusing a strategy that keeps
// asking after the stop) becomes StopSearch in the script.
template <class F>
auto engine_call(ScriptContext& s, F&& f) -> decltype(f(s.live())) {
    SearchContext& c = s.live();
    using R = decltype(f(c));
    std::optional<std::conditional_t<std::is_void_v<R>, char, R>> result;
    bool stopped = false;
    {
        struct BackInPython {
            ScriptContext& s;
            SearchContext& c;
            ~BackInPython() {
                if (s.guard) s.guard->enter_python(c.budget_exhausted());
            }
        } back{s, c};
        if (s.guard) s.guard->leave_python();
        py::gil_scoped_release nogil;
        try {
            if constexpr (std::is_void_v<R>) {
                f(c);
                result.emplace(0);
            } else {
                result.emplace(f(c));
            }
        } catch (const SearchStopped&) {
            stopped = true;
        }
    }
    if (stopped) raise_stop();
    if constexpr (!std::is_void_v<R>) return std::move(*result);
}

struct NodeRef {
    std::shared_ptr<ScriptContext> s;
    int id;
    const Node& get() const { return s->live().node(id); }
};

std::vector<int> node_list(ScriptContext& s, const std::vector<int>& ids) {
    for (int id : ids) s.check_node(id);
    return ids;
}

}  // namespace

SearchContext& ScriptContext::live() const {
    if (!ctx)
        py_raise(PyExc_RuntimeError, "this ctx belongs to a run that is over (do not keep it)");
    return *ctx;
}

int ScriptContext::check_node(int id) const {
    const int n = live().tree().size();
    if (id < 0 || id >= n)
        py_raise(PyExc_IndexError, "node " + std::to_string(id) + " does not exist (the tree has " +
                                       std::to_string(n) + " nodes, ids 0.." +
                                       std::to_string(n - 1) + ")");
    return id;
}

Scorer& ScriptContext::scorer(const py::object& id_obj) {
    std::string id;
    if (id_obj.is_none()) {
        if (run_scorer.empty())
            py_raise(PyExc_ValueError,
                     "ctx.score: this strategy has no `scorer` parameter; name one "
                     "(e.g. ctx.score(node, \"logprob\"))");
        id = run_scorer;
    } else {
        id = py::cast<std::string>(id_obj);
    }
    auto it = scorers.find(id);
    if (it != scorers.end()) return *it->second;
    try {
        return *(scorers[id] = make_scorer(id));
    } catch (const std::exception& e) {
        scorers.erase(id);
        py_raise(PyExc_ValueError, e.what());
    }
}

void bind_script_context(py::module_& m) {
    py::class_<TokenRecord>(m, "Token", "One generated token and the model's signals at it.")
        .def_readonly("id", &TokenRecord::id)
        .def_readonly("piece", &TokenRecord::piece)
        .def_readonly("logprob", &TokenRecord::logprob)
        .def_readonly("entropy", &TokenRecord::entropy)
        .def_readonly("varentropy", &TokenRecord::varentropy)
        .def_readonly("self_certainty", &TokenRecord::self_certainty)
        .def_readonly("top", &TokenRecord::top, "alternatives [(token id, logprob)], best first")
        .def_readonly("top_pieces", &TokenRecord::top_pieces)
        .def_readonly("thinking", &TokenRecord::thinking)
        .def_readonly("forced", &TokenRecord::forced)
        .def("__repr__", [](const TokenRecord& t) {
            return "<Token " + std::to_string(t.id) + " " +
                   py::repr(py::str(t.piece)).cast<std::string>() + ">";
        });

    py::class_<Vote>(m, "Vote", "Answers grouped by their normalized form (ctx.vote).")
        .def_readonly("answer", &Vote::answer)
        .def_readonly("weight", &Vote::weight)
        .def_readonly("count", &Vote::count)
        .def_readonly("best_node", &Vote::best_node)
        .def("__repr__", [](const Vote& v) {
            return "<Vote " + py::repr(py::str(v.answer)).cast<std::string>() +
                   " count=" + std::to_string(v.count) + " weight=" + std::to_string(v.weight) +
                   " best_node=" + std::to_string(v.best_node) + ">";
        });

    // A node of the live tree, read when asked (a view, not a copy).
    py::class_<NodeRef> node(m, "Node", "A node (reasoning step) of the run's tree, read live.");
    bind_node_fields(node, [](const NodeRef& n) { return n.s->live().path_text(n.id); });

    using Ctx = std::shared_ptr<ScriptContext>;
    auto node_of = [](const Ctx& s, int id) { return NodeRef{s, s->check_node(id)}; };
    py::class_<ScriptContext, Ctx>(m, "Context", "The run's search context.")
        // The tree.
        .def_property_readonly("root", [](const Ctx& s) { return s->live().root(); })
        .def("node", node_of, py::arg("id"))
        .def("__getitem__", node_of)
        .def("__len__", [](const Ctx& s) { return s->live().tree().size(); })
        .def_property_readonly("size", [](const Ctx& s) { return s->live().tree().size(); })
        .def("nodes",
             [](const Ctx& s) {
                 std::vector<NodeRef> out;
                 for (int i = 0; i < s->live().tree().size(); ++i) out.push_back({s, i});
                 return out;
             })
        .def("leaves", [](const Ctx& s) { return s->live().tree().leaves(); })
        .def("path", [](const Ctx& s, int id) { return s->live().tree().path(s->check_node(id)); })
        .def("path_text",
             [](const Ctx& s, int id) { return s->live().path_text(s->check_node(id)); })
        .def("is_terminal",
             [](const Ctx& s, int id) { return s->live().is_terminal(s->check_node(id)); })
        .def("can_expand",
             [](const Ctx& s, int id) { return s->live().can_expand(s->check_node(id)); })
        // Growing it: every call is one batch for all the branches it names.
        .def(
            "expand",
            [](const Ctx& s, int id, int n, float temperature) {
                s->check_node(id);
                if (n < 0) py_raise(PyExc_ValueError, "ctx.expand: n must be >= 0");
                return engine_call(*s,
                                   [&](SearchContext& c) { return c.expand(id, n, temperature); });
            },
            py::arg("node"), py::arg("n") = 1, py::arg("temperature") = -1.0f)
        .def(
            "expand_many",
            [](const Ctx& s, const py::iterable& requests, float temperature) {
                std::vector<std::pair<int, int>> req;
                for (const py::handle& r : requests) {
                    if (py::isinstance<py::int_>(r)) {
                        req.push_back({s->check_node(r.cast<int>()), 1});
                        continue;
                    }
                    auto pair = r.cast<std::pair<int, int>>();
                    if (pair.second < 0)
                        py_raise(PyExc_ValueError, "ctx.expand_many: n must be >= 0");
                    req.push_back({s->check_node(pair.first), pair.second});
                }
                return engine_call(
                    *s, [&](SearchContext& c) { return c.expand_many(req, temperature); });
            },
            py::arg("requests"), py::arg("temperature") = -1.0f,
            "requests: [(node, n), ...] or [node, ...] (one child each)")
        .def(
            "complete",
            [](const Ctx& s, const std::vector<int>& ids) {
                node_list(*s, ids);
                return engine_call(*s, [&](SearchContext& c) { return c.complete(ids); });
            },
            py::arg("nodes"))
        // Scores and the tree's bookkeeping.
        .def(
            "score",
            [](const Ctx& s, const py::object& what, const py::object& scorer_id) -> py::object {
                Scorer& sc = s->scorer(scorer_id);
                if (py::isinstance<py::int_>(what)) {
                    const int id = s->check_node(what.cast<int>());
                    return py::float_(
                        engine_call(*s, [&](SearchContext& c) { return c.score(id, sc); }));
                }
                auto ids = node_list(*s, what.cast<std::vector<int>>());
                return py::cast(engine_call(*s, [&](SearchContext& c) {
                    std::vector<double> out;
                    for (int id : ids) out.push_back(c.score(id, sc));
                    return out;
                }));
            },
            py::arg("node"), py::arg("scorer") = py::none(),
            "score a node (or a list of nodes) with a scorer: the run's `scorer` parameter by "
            "default; the value is kept in node.scores[scorer id]")
        .def_property_readonly("scorer",
                               [](const Ctx& s) -> py::object {
                                   if (s->run_scorer.empty()) return py::none();
                                   return py::str(s->run_scorer);
                               })
        .def(
            "set_score",
            [](const Ctx& s, int id, const std::string& key, double value) {
                s->live().set_score(s->check_node(id), key, value);
            },
            py::arg("node"), py::arg("key"), py::arg("value"))
        .def("prune",
             [](const Ctx& s, int id) {
                 engine_call(*s, [&](SearchContext& c) { c.prune(s->check_node(id)); });
             })
        .def(
            "backpropagate",
            [](const Ctx& s, int id, double value) {
                s->live().backpropagate(s->check_node(id), value);
            },
            py::arg("node"), py::arg("value"))
        // Answers.
        .def(
            "vote",
            [](const Ctx& s, const std::vector<int>& leaves, const std::string& weight_key) {
                return vote(s->live(), node_list(*s, leaves), weight_key);
            },
            py::arg("leaves"), py::arg("weight_key") = "")
        .def(
            "choose_best_scored",
            [](const Ctx& s, const std::vector<int>& ids, const std::string& key) {
                return choose_best_scored(s->live(), node_list(*s, ids), key);
            },
            py::arg("nodes"), py::arg("score_key"))
        .def(
            "choose_answer",
            [](const Ctx& s, const py::object& answer, int node) {
                if (!py::isinstance<py::str>(answer))
                    py_raise(
                        PyExc_TypeError,
                        "ctx.choose_answer: the answer must be a str, not " +
                            py::str(py::type::of(answer).attr("__name__")).cast<std::string>());
                if (node != -1) s->check_node(node);
                s->live().choose_answer(answer.cast<std::string>(), node);
            },
            py::arg("answer"), py::arg("node") = -1)
        .def(
            "choose_node",
            [](const Ctx& s, int id) {
                const Node& n = s->live().node(s->check_node(id));
                if (n.answer.empty())
                    py_raise(PyExc_ValueError,
                             "ctx.choose_node: node " + std::to_string(id) + " has no answer");
                s->live().choose_answer(n.answer, id);
            },
            py::arg("node"))
        .def_property_readonly("chosen_answer",
                               [](const Ctx& s) { return s->live().chosen_answer(); })
        .def_property_readonly("chosen_node", [](const Ctx& s) { return s->live().chosen_node(); })
        // Budgets and control.
        .def("should_stop",
             [](const Ctx& s) {
                 return engine_call(*s, [](SearchContext& c) { return c.should_stop(); });
             })
        .def("budget_exhausted", [](const Ctx& s) { return s->live().budget_exhausted(); })
        .def("metrics", [](const Ctx& s) { return metrics_dict(s->live().metrics()); })
        .def_property_readonly("params", [](const Ctx& s) { return s->params; })
        .def_property_readonly("config",
                               [](const Ctx& s) {
                                   const RunConfig& c = s->live().config();
                                   py::dict d;
                                   d["max_depth"] = c.max_depth;
                                   d["max_step_tokens"] = c.max_step_tokens;
                                   d["max_tokens"] = c.max_tokens;
                                   d["max_passes"] = c.max_passes;
                                   d["max_seconds"] = c.max_seconds;
                                   d["temperature"] = c.sampling.temperature;
                                   d["seed"] = c.sampling.seed;
                                   d["step_delimiters"] = c.step_delimiters;
                                   return d;
                               })
        .def_property_readonly("prompt", [](const Ctx& s) { return s->live().task().prompt; })
        .def_property_readonly("task_id", [](const Ctx& s) { return s->live().task().id; })
        .def(
            "uniform",
            [](const Ctx& s, uint64_t stream, uint64_t counter) {
                return s->live().uniform(stream, counter);
            },
            py::arg("stream"), py::arg("counter"))
        // The model, for scoring by hand.
        .def("next_token_logprobs",
             [](const Ctx& s, const std::string& text) {
                 return engine_call(*s,
                                    [&](SearchContext& c) { return c.next_token_logprobs(text); });
             })
        .def("continuation_logprob",
             [](const Ctx& s, const std::string& prefix, const std::string& continuation) {
                 return engine_call(*s, [&](SearchContext& c) {
                     return c.continuation_logprob(prefix, continuation);
                 });
             })
        .def("tokenize", [](const Ctx& s,
                            const std::string& text) { return s->live().tokenizer().encode(text); })
        .def("token_piece", [](const Ctx& s, int id) {
            const Tokenizer& t = s->live().tokenizer();
            if (id < 0 || id >= t.n_vocab())
                py_raise(PyExc_IndexError,
                         "token " + std::to_string(id) + " is not in the vocabulary");
            return t.token_to_piece(id);
        });
}

}  // namespace rs::python
