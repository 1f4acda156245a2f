#include "models/run_model.h"

namespace rs::views {

RunModel::RunModel(QObject* parent) : QObject(parent) {}

void RunModel::reset_run() {
    tree_ = ReasoningTree();
    metrics_.clear();
    entropy_trace_.clear();
    score_key_.clear();
    selected_ = -1;
    live_ = finished_ = paused_ = false;
}

void RunModel::clear() {
    reset_run();
    info_ = RunRow();
    emit runReset();
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
    bool started = false;
    for (const RunEvent& e : events) {
        // Events arrive in order: a new run starts here.
        if (const auto* s = std::get_if<RunStarted>(&e)) {
            reset_run();
            info_.prompt = s->prompt;
            live_ = true;
            started = true;
        }
        rs::apply_event(tree_, e);  // the same function the search builds its tree with
        if (const auto* t = std::get_if<TokensAppended>(&e)) {
            if (t->node < tree_.size())
                for (const auto& tk : t->tokens) entropy_trace_.push_back(tk.entropy);
        } else if (const auto* sc = std::get_if<NodeScored>(&e)) {
            if (score_key_.isEmpty() && sc->scorer != "prm_step" && sc->scorer != "ess" &&
                sc->scorer != "branch_point")
                score_key_ = QString::fromStdString(sc->scorer);
        } else if (const auto* m = std::get_if<MetricsSampled>(&e)) {
            metrics_.push_back(m->metrics);
        } else if (const auto* f = std::get_if<RunFinished>(&e)) {
            metrics_.push_back(f->metrics);
            info_.status = f->status;
            info_.answer = f->answer;
            info_.correct = f->correct;
            info_.chosen_node = f->node;
            finished_ = true;
            paused_ = false;
        }
    }
    if (started) emit runReset();
    if (!events.empty()) emit changed();
    for (const RunEvent& e : events)
        if (const auto* f = std::get_if<RunFinished>(&e)) {
            if (f->node >= 0) select(f->node);
            emit runFinished();
        }
}

void RunModel::load(StoredRun run) {
    tree_ = std::move(run.tree);
    info_ = std::move(run.run);
    metrics_ = std::move(run.metrics);
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
    paused_ = false;
    selected_ = -1;
    emit runReset();
    emit changed();
    select(info_.chosen_node >= 0 && info_.chosen_node < tree_.size()
               ? info_.chosen_node
               : (tree_.size() ? tree_.size() - 1 : -1));
}

void RunModel::set_paused(bool paused) {
    if (paused == paused_) return;
    paused_ = paused;
    emit stateChanged();
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
