#!/usr/bin/env python3
"""Writes the task suites resources/tasks/arith-{easy,medium,hard}.jsonl.

Each line: {"id", "prompt", "answer", "answer_pattern", "level", "expression"}.
The suites are drawn from their own seed; the trainer excludes every
expression listed here, so suites and training data are disjoint.
Usage: make_tasks.py [--out DIR] [--n 200] [--seed 1234]
"""
import argparse
import json
import os
import random

import arith


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "resources", "tasks"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    seen = set()
    for level in ("easy", "medium", "hard"):
        rng = random.Random(f"{args.seed}-{level}")
        path = os.path.join(args.out, f"arith-{level}.jsonl")
        with open(path, "w") as f:
            i = 0
            while i < args.n:
                expr, _, answer = arith.make_problem(rng, level)
                if expr in seen:
                    continue
                seen.add(expr)
                row = {
                    "id": f"{level}-{i:03d}",
                    "prompt": arith.prompt_for(expr),
                    "answer": str(answer),
                    "answer_pattern": r"Answer:\s*(-?\d+)",
                    "level": level,
                    "expression": expr,
                }
                f.write(json.dumps(row) + "\n")
                i += 1
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
