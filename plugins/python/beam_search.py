# Step-level beam search in Python: the C++ plugin (plugins/beam-search/)
# line for line, so the same seed and parameters grow the same tree.
STRATEGY = {
    "id": "py-beam-search",
    "name": "Step-level beam search (Python)",
    "description": "Keep the best `width` partial solutions; at each step expand every beam "
                   "into several candidate next steps and keep those a scorer rates highest. "
                   "A Python port of beam-search.",
    "paper": "Snell et al. 2024, Scaling LLM Test-Time Compute Optimally can be More Effective "
             "than Scaling Model Parameters",
    "parameters": [
        {"name": "width", "type": "int", "default": 4, "min": 1, "max": 64,
         "help": "beams kept per step"},
        {"name": "expansions", "type": "int", "default": 4, "min": 1, "max": 32,
         "help": "candidate next steps per beam"},
        {"name": "scorer", "type": "scorer", "default": "prm", "help": "ranks partial solutions"},
        {"name": "temperature", "type": "float", "default": 0.8, "min": 0.0, "max": 2.0,
         "help": "sampling temperature for candidates"},
        {"name": "max_depth", "type": "int", "default": 24, "min": 1, "max": 256,
         "help": "most reasoning steps"},
    ],
}


def run(ctx, params):
    width, expansions = params["width"], params["expansions"]
    beams, finished = [ctx.root], []
    while beams and not ctx.should_stop() and len(finished) < width:
        # Every beam's candidates in one batch.
        kids = ctx.expand_many([(b, expansions) for b in beams])
        scores = ctx.score(kids)
        # sorted() is stable, as the C++ version's std::stable_sort.
        ranked = sorted(zip(scores, kids), key=lambda sk: -sk[0])
        beams = []
        for _, k in ranked:
            keep = len(beams) + len(finished) < width
            if keep and ctx.is_terminal(k):
                finished.append(k)
            elif keep and ctx.can_expand(k):
                beams.append(k)
            elif not ctx.is_terminal(k):
                ctx.prune(k)
    ctx.choose_best_scored(finished, ctx.scorer)
