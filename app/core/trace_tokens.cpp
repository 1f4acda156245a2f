#include "core/trace_tokens.h"

#include <string>

#include "reasonscope/error.h"

namespace rs::app {

std::vector<TokenId> run_prompt_tokens(const Tokenizer& tok, const RunRow& run) {
    // As SearchContext's constructor: a rendered chat prompt writes its
    // special tokens as text and may begin with BOS itself.
    if (run.prompt_rendered.empty()) return tok.encode(run.prompt, true, false);
    std::vector<TokenId> ids = tok.encode(run.prompt_rendered, false, true);
    if (tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids.front() != tok.bos()))
        ids.insert(ids.begin(), tok.bos());
    return ids;
}

std::vector<TokenId> trace_tokens(const Tokenizer& tok, const RunRow& run,
                                  const ReasoningTree& tree, int node, int upto) {
    if (node < 0 || node >= tree.size())
        throw Error("node " + std::to_string(node) + " is not in run " + std::to_string(run.id) +
                    " (it has nodes 0.." + std::to_string(tree.size() - 1) + ")");
    const int n_last = static_cast<int>(tree.at(node).tokens.size());
    if (upto > n_last)
        throw Error("node " + std::to_string(node) + " has " + std::to_string(n_last) +
                    " tokens; token " + std::to_string(upto) + " is past them");
    std::vector<TokenId> out = run_prompt_tokens(tok, run);
    for (int id : tree.path(node)) {
        const Node& n = tree.at(id);
        const size_t take = id == node && upto >= 0 ? static_cast<size_t>(upto) : n.tokens.size();
        for (size_t i = 0; i < take; ++i) out.push_back(n.tokens[i].id);
    }
    return out;
}

}  // namespace rs::app
