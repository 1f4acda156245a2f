// The token ids a stored run's model saw: its prompt encoded the way the
// search encoded it (a chat template's rendering with its special tokens,
// else the task's prompt with BOS), then the sampled tokens of the steps
// along a path. What the on-demand probes (logit lens, answer entropy)
// re-evaluate.
#pragma once

#include <vector>

#include "reasonscope/run_store.h"
#include "reasonscope/tokenizer.h"
#include "reasonscope/tree.h"

namespace rs::app {

std::vector<TokenId> run_prompt_tokens(const Tokenizer& tok, const RunRow& run);

// The prompt's tokens, then every token of the steps root .. node; of the
// last step only its first `upto` tokens (-1: all). Throws rs::Error for a
// node outside the tree or `upto` past the step's tokens.
std::vector<TokenId> trace_tokens(const Tokenizer& tok, const RunRow& run,
                                  const ReasoningTree& tree, int node, int upto = -1);

}  // namespace rs::app
