# Self-consistency in Python: the C++ plugin (plugins/self-consistency/)
# line for line, so the same seed and parameters grow the same tree.
STRATEGY = {
    "id": "py-self-consistency",
    "name": "Self-consistency (Python)",
    "description": "Sample N solutions and vote over their normalized final answers, by count "
                   "or weighted by a scorer. A Python port of self-consistency.",
    "paper": "Wang et al. 2023, Self-Consistency Improves Chain of Thought Reasoning in "
             "Language Models",
    "parameters": [
        {"name": "n", "type": "int", "default": 16, "min": 1, "max": 256,
         "help": "number of sampled solutions"},
        {"name": "weighting", "type": "choice", "default": "majority",
         "choices": ["majority", "score"], "help": "count votes, or weight each by the scorer"},
        {"name": "scorer", "type": "scorer", "default": "logprob",
         "help": "weights for weighting=score"},
        {"name": "temperature", "type": "float", "default": 0.8, "min": 0.0, "max": 2.0,
         "help": "sampling temperature"},
        {"name": "max_depth", "type": "int", "default": 24, "min": 1, "max": 256,
         "help": "most reasoning steps"},
    ],
}


def run(ctx, params):
    # All n samples grow together: one batched call per step.
    leaves = ctx.complete(ctx.expand(ctx.root, params["n"]))
    key = ""
    if params["weighting"] == "score":
        answered = [leaf for leaf in leaves if ctx.node(leaf).answer]
        ctx.score(answered)  # the run's scorer, kept under its id
        key = ctx.scorer
    votes = ctx.vote(leaves, key)
    if votes:
        ctx.choose_answer(votes[0].answer, votes[0].best_node)
