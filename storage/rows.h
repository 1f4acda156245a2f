// Node and token rows, written the same way by the recorder (live runs) and
// by import (whole runs).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "reasonscope/tree.h"
#include "sqlite_util.h"

namespace rs::storage {

inline constexpr const char* kInsertToken =
    "INSERT OR REPLACE INTO tokens (run_id, node_id, idx, token_id, piece, logprob, entropy, "
    "varentropy, top, top_pieces, flags, self_certainty) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)";
inline constexpr const char* kInsertNode =
    "INSERT OR REPLACE INTO nodes (run_id, node_id, parent_id, depth, status, text, answer, "
    "correct, ended, visits, value_sum, started_at, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";

// Alternatives as little-endian (int32 id, float32 logprob) pairs.
std::string pack_top(const std::vector<std::pair<TokenId, float>>& top);
std::vector<std::pair<TokenId, float>> unpack_top(const std::string& blob);

void write_token(Stmt& s, int64_t run, int node, int64_t idx, const TokenRecord& t);

// The node's row (not its tokens, scores or hidden state).
void write_node(Stmt& s, int64_t run, const Node& n);

}  // namespace rs::storage
