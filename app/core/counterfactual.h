// A counterfactual branch shown where it belongs: grafted onto the tree of
// the run it departs from. The branch run was started from a token of its
// parent's trace with another token in its place (RunRow::parent_run,
// parent_node, parent_token, forced_token); its own tree starts after that
// token. Grafted, it becomes a new sibling of the departure node whose
// tokens are the departure node's tokens before the departure (with their
// signals), the forced token (marked `forced`, with the replaced token's
// distribution: its log-probability and alternatives are those of the
// replaced position) and the branch's first step; the branch's later steps
// hang below it as they grew.
#pragma once

#include <cstdint>

#include "core/run_service.h"
#include "reasonscope/run_store.h"

namespace rs::app {

// Every grafted node carries the score kCounterfactualRunScore
// (reasonscope/run_store.h): the branch run's id.
using rs::kCounterfactualRunScore;

struct GraftedRun {
    StoredRun run;    // the parent's run row, its tree with the branch grafted on
    int first = -1;   // the grafted sibling of the departure node
    int chosen = -1;  // where the branch's chosen trace ends (its last node when none)
};

// The request for a counterfactual branch of `run` (its row and tree): chain
// of thought from token `index` of `node` with `alternative` (one of that
// token's recorded alternatives) in its place. The trace up to there is the
// prompt's continuation (after a chat template's output, or appended to a
// plain prompt). Greedy with `seed`, or with the run's temperature and seed.
// Linked to the run (RunRequest::counterfactual_of) when the run is stored
// and the node is its own, not a branch grafted onto it. Throws rs::Error for
// a node, index or alternative the tree does not have.
struct BranchChoice {
    int node = -1, index = -1, alternative = -1;
    bool sample_like_run = false;
    uint64_t seed = 42;  // when not sampling like the run
};
struct BranchRequest {
    RunRequest request;
    std::string forced_piece, replaced_piece;
    std::string sampling;  // "greedy" or "temperature T, seed S"
    bool linked = false;
};
BranchRequest counterfactual_request(const RunRow& run, const ReasoningTree& tree,
                                     const BranchChoice& c);

// Throws rs::Error when `branch` does not name `parent` as its parent, or its
// departure (node, token index) is not in the parent's tree.
GraftedRun graft_counterfactual(const StoredRun& parent, const StoredRun& branch);

}  // namespace rs::app
