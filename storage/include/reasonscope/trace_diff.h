// Two runs' chosen traces aligned token by token: the shared prefix and
// suffix, then a token-level diff of the middle (longest common subsequence
// on token ids and text). Middles too long for the LCS table are aligned
// over a window after the divergence, the rest of each following whole
// (`exact` says so).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "reasonscope/run_store.h"

namespace rs {

// One token of a chosen trace, where it came from.
struct TraceToken {
    TokenId id = -1;  // -1: a step stored without token records (its text as one piece)
    std::string piece;
    int node = 0;  // the step it belongs to
    int step = 0;  // that step's place on the path (1: the first step after the prompt)
};

// The chosen path's tokens (root excluded), in order.
std::vector<TraceToken> chosen_trace(const StoredRun& r);

struct TraceDiff {
    enum class Op { Same, OnlyA, OnlyB };
    struct Entry {
        Op op = Op::Same;
        int a = -1, b = -1;  // token index in trace a / b (-1 where that side has none)
    };
    std::vector<Entry> entries;  // in reading order: both traces read off it
    bool identical = false;      // same tokens, same length
    // Tokens the traces share from the start; for traces that differ, the
    // index (in both) of the first token that differs or is missing.
    size_t common_prefix = 0;
    size_t common_suffix = 0;  // shared tokens at the end, after the prefix
    size_t same = 0;           // tokens matched in all (prefix, suffix and the LCS)
    bool exact = true;         // false: only a window after the divergence was aligned
};

// `max_cells` bounds the LCS table, (middle of a) x (middle of b); past it
// the window is sqrt(max_cells) tokens of each.
constexpr size_t kTraceDiffCells = size_t{4} << 20;  // 2,048 x 2,048
TraceDiff diff_traces(const std::vector<TraceToken>& a, const std::vector<TraceToken>& b,
                      size_t max_cells = kTraceDiffCells);

}  // namespace rs
