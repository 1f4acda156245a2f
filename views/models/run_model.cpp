#include "models/run_model.h"

namespace rs::views {

RunModel::RunModel(QObject* parent) : QObject(parent) {}

void RunModel::reset_run() {
    tree_ = ReasoningTree();
    metrics_.clear();
    entropy_trace_.clear();
    score_key_.clear();
    selected_ = -1;
    live_ = finished_ = false;
}

void RunModel::clear() {
    reset_run();
    info_ = RunRow();
    emit changed();
}

void RunModel::begin_live(const RunRow& info) {
    clear();
    info_ = info;
    live_ = true;
}

void RunModel::set_info(const RunRow& info) {
    const std::string status = info_.status;
    info_ = info;
    if (finished_) info_.status = status;
    emit changed();
}

void RunModel::apply(const std::vector<RunEvent>& events) {
    for (const RunEvent& e : events) {
        switch (e.kind) {
            case EventKind::NodeAdded: {
                if (e.parent >= tree_.size()) break;  // not part of this run's tree
                int id = tree_.add(e.parent);
                if (id != e.node) tree_.at(id).id = id;  // ids are dense and in order
                if (e.parent < 0)
                    tree_.at(id).text = QString::fromStdString(info_.prompt).toStdString();
                break;
            }
            case EventKind::TokensAppended:
                if (e.node < tree_.size()) {
                    Node& n = tree_.at(e.node);
                    for (const auto& t : e.tokens) {
                        n.text += t.piece;
                        n.tokens.push_back(t);
                        entropy_trace_.push_back(t.entropy);
                    }
                }
                break;
            case EventKind::NodeStatusChanged:
                if (e.node < tree_.size()) tree_.at(e.node).status = e.status;
                break;
            case EventKind::NodeScored:
                if (e.node < tree_.size()) {
                    tree_.at(e.node).scores[e.key] = e.value;
                    if (score_key_.isEmpty() && e.key != "prm_step" && e.key != "ess" &&
                        e.key != "branch_point")
                        score_key_ = QString::fromStdString(e.key);
                }
                break;
            case EventKind::AnswerFound:
                if (e.node < tree_.size()) {
                    tree_.at(e.node).answer = e.text;
                    tree_.at(e.node).correct = e.correct;
                }
                break;
            case EventKind::Metrics:
                metrics_.push_back(e.metrics);
                break;
            case EventKind::RunFinished:
                metrics_.push_back(e.metrics);
                info_.status = e.key;
                info_.answer = e.text;
                info_.correct = e.correct;
                info_.chosen_node = e.node;
                finished_ = true;
                break;
            case EventKind::HiddenState:
                if (e.node < tree_.size() && !e.layers.empty())
                    tree_.at(e.node).hidden.assign(
                        e.hidden.begin(),
                        e.hidden.begin() + static_cast<long>(e.hidden.size() / e.layers.size()));
                break;
            case EventKind::RunStarted:  // events arrive in order: a new run starts here
                reset_run();
                info_.prompt = e.text;
                live_ = true;
                break;
        }
    }
    if (!events.empty()) emit changed();
    for (const RunEvent& e : events)
        if (e.kind == EventKind::RunFinished) {
            if (e.node >= 0) select(e.node);
            emit runFinished();
        }
}

void RunModel::load(const StoredRun& run) {
    tree_ = run.tree;
    info_ = run.run;
    metrics_ = run.metrics;
    entropy_trace_.clear();
    score_key_.clear();
    for (const Node& n : tree_.nodes()) {
        for (const auto& t : n.tokens) entropy_trace_.push_back(t.entropy);
        for (const auto& [k, v] : n.scores)
            if (score_key_.isEmpty() && k != "prm_step" && k != "ess" && k != "branch_point")
                score_key_ = QString::fromStdString(k);
    }
    live_ = false;
    finished_ = true;
    selected_ = -1;
    emit changed();
    select(info_.chosen_node >= 0 && info_.chosen_node < tree_.size()
               ? info_.chosen_node
               : (tree_.size() ? tree_.size() - 1 : -1));
}

void RunModel::select(int node) {
    if (node >= tree_.size()) return;
    selected_ = node;
    emit selectionChanged(node);
}

std::vector<int> RunModel::selected_path() const {
    if (selected_ < 0 || selected_ >= tree_.size()) return {};
    return tree_.path(selected_);
}

}  // namespace rs::views
