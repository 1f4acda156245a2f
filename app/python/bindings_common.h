// What the embedded strategies' `ctx` (script_context.cpp) and the
// `reasonscope` module (python_module.cpp) show of the same things: JSON
// values, run metrics, and a node's fields, so a node reads alike live and
// finished.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reasonscope/events.h"
#include "reasonscope/tree.h"

namespace rs::python {

namespace py = pybind11;

inline py::object json_to_py(const nlohmann::json& j) {
    return py::module_::import("json").attr("loads")(j.dump());
}

inline nlohmann::json py_to_json(const py::object& o) {
    return nlohmann::json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

inline py::dict metrics_dict(const RunMetrics& m) {
    py::dict d;
    d["tokens_generated"] = m.tokens_generated;
    d["forward_passes"] = m.forward_passes;
    d["nodes"] = m.nodes;
    d["kv_bytes"] = m.kv_bytes;
    d["kv_peak_bytes"] = m.kv_peak_bytes;
    d["branches_alive"] = m.branches_alive;
    d["wall_seconds"] = m.wall_seconds;
    d["tokens_per_second"] = m.tokens_per_second;
    return d;
}

// A node view's read-only fields: N has `id` and `get()` (the Node);
// path_text(n) gives the texts from the root.
template <class N, class PathText>
py::class_<N>& bind_node_fields(py::class_<N>& c, PathText path_text) {
    return c.def_property_readonly("id", [](const N& n) { return n.id; })
        .def_property_readonly("parent", [](const N& n) { return n.get().parent; })
        .def_property_readonly("depth", [](const N& n) { return n.get().depth; })
        .def_property_readonly("children", [](const N& n) { return n.get().children; })
        .def_property_readonly("text", [](const N& n) { return n.get().text; })
        .def_property_readonly("answer_text", [](const N& n) { return n.get().answer_text(); })
        .def_property_readonly("path_text", path_text)
        .def_property_readonly("answer", [](const N& n) { return n.get().answer; })
        .def_property_readonly("correct", [](const N& n) { return n.get().correct; })
        .def_property_readonly("status",
                               [](const N& n) { return std::string(status_name(n.get().status)); })
        .def_property_readonly("terminal",
                               [](const N& n) { return n.get().status == NodeStatus::Terminal; })
        .def_property_readonly("pruned",
                               [](const N& n) { return n.get().status == NodeStatus::Pruned; })
        .def_property_readonly("ended", [](const N& n) { return n.get().ended; })
        .def_property_readonly("scores", [](const N& n) { return n.get().scores; })
        .def_property_readonly("visits", [](const N& n) { return n.get().visits; })
        .def_property_readonly("value_sum", [](const N& n) { return n.get().value_sum; })
        .def_property_readonly("value", [](const N& n) { return n.get().value(); })
        .def_property_readonly("started_at", [](const N& n) { return n.get().started_at; })
        .def_property_readonly("ended_at", [](const N& n) { return n.get().ended_at; })
        .def_property_readonly("wall_seconds", [](const N& n) { return n.get().wall_seconds(); })
        .def_property_readonly("tokens", [](const N& n) { return n.get().tokens; })
        .def_property_readonly("token_ids",
                               [](const N& n) {
                                   std::vector<TokenId> ids;
                                   for (const auto& t : n.get().tokens) ids.push_back(t.id);
                                   return ids;
                               })
        .def_property_readonly("logprobs",
                               [](const N& n) {
                                   std::vector<float> v;
                                   for (const auto& t : n.get().tokens) v.push_back(t.logprob);
                                   return v;
                               })
        .def_property_readonly("mean_logprob", [](const N& n) { return n.get().mean_logprob(); })
        .def_property_readonly("mean_entropy", [](const N& n) { return n.get().mean_entropy(); })
        .def_property_readonly("thinking_tokens",
                               [](const N& n) { return n.get().thinking_tokens(); })
        .def_property_readonly("hidden", [](const N& n) { return n.get().hidden; })
        .def("__repr__", [](const N& n) {
            const Node& x = n.get();
            return "<Node " + std::to_string(n.id) + " depth=" + std::to_string(x.depth) + " " +
                   status_name(x.status) + " " + py::repr(py::str(x.text)).cast<std::string>() +
                   ">";
        });
}

}  // namespace rs::python
