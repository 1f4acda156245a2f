// Which signal predicts a correct answer: per finished trace (a terminal
// leaf and the path to it), the signals the literature scores traces by,
// and each signal's AUROC for telling correct traces from wrong ones, with a
// bootstrap interval. `reasonscope eval --signals` prints and stores them.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reasonscope/tree.h"

namespace rs::app {

// A finished trace's signals (higher = more confident, for every one) and
// whether its answer is right.
struct TraceSignals {
    std::string task;
    int leaf = -1;
    bool correct = false;
    std::map<std::string, double> values;
};

// The signals, in the order they are reported, with what each one is.
const std::vector<std::pair<std::string, std::string>>& signal_names();

// Every terminal leaf with an answer and a known correctness. `window`:
// DeepConf's group size in tokens.
std::vector<TraceSignals> trace_signals(const ReasoningTree& tree, const std::string& task,
                                        int window = 16);

struct SignalAuroc {
    std::string signal;
    double auroc = 0.5, lo = 0.5, hi = 0.5;  // estimate and 95% bootstrap interval
    int positives = 0, negatives = 0;
    // Within problems: the mean of each problem's own AUROC over the
    // problems with both right and wrong traces (what choosing among one
    // problem's traces needs; pooled AUROC also rewards knowing which
    // problems are easy).
    double within = 0.5;
    int within_problems = 0;
};

// Mann-Whitney AUROC of `values` for `labels` (ties count half); 0.5 when a
// class is empty.
double auroc(const std::vector<double>& values, const std::vector<bool>& labels);

// Each signal's AUROC over the traces, with a percentile bootstrap over
// problems (traces of one problem are resampled together), seeded.
std::vector<SignalAuroc> signal_aurocs(const std::vector<TraceSignals>& traces,
                                       int resamples = 1000, uint64_t seed = 1);

nlohmann::json aurocs_to_json(const std::vector<SignalAuroc>& a);

}  // namespace rs::app
