#!/usr/bin/env bash
# Measures the bundled model's scaling table with `reasonscope eval` and
# writes it as Markdown (the model card's table comes from this script).
# Usage: evaluate.sh [SUITE] [LIMIT] [OUT.md]   (defaults: hard 200 eval.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${REASONSCOPE_BIN:-./build/bin/reasonscope}
SUITE=${1:-hard}
LIMIT=${2:-200}
OUT=${3:-tools/train-reasoner/eval.md}
TMP=$(mktemp -d)
run() {  # name, strategy, settings...
  local name=$1 strat=$2; shift 2
  local sets=()
  for s in "$@"; do sets+=(--set "$s"); done
  $BIN eval --suite "$SUITE" --limit "$LIMIT" --strategy "$strat" "${sets[@]}" --json > "$TMP/$name.json"
  echo "done $name" >&2
}
run greedy chain-of-thought
run sc16 self-consistency n=16
run sc16-t06 self-consistency n=16 temperature=0.6
run sc16-t06-score self-consistency n=16 temperature=0.6 weighting=score
run bon16-prm best-of-n n=16 scorer=prm
run beam4x4-prm beam-search width=4 expansions=4 scorer=prm
run pf16-prm particle-filtering particles=16 scorer=prm
run mcts32-prm mcts iterations=32 expansions=3 scorer=prm
run entropy entropy-branching
for k in 1 2 4 8 16 32 64; do run "cov$k" self-consistency n=$k; done
python3 - "$TMP" "$SUITE" "$LIMIT" > "$OUT" <<'PY'
import json, sys, os
tmp, suite, limit = sys.argv[1:4]
def load(n): return json.load(open(os.path.join(tmp, n + ".json")))
print(f"Suite `{suite}`, {limit} problems, `reasonscope eval` (seed 42, 2 threads).\n")
print("| strategy | settings | accuracy | coverage | mean tokens | mean forward passes | mean seconds |")
print("|---|---|---|---|---|---|---|")
for n in ["greedy", "sc16", "sc16-t06", "sc16-t06-score", "bon16-prm", "beam4x4-prm", "pf16-prm", "mcts32-prm", "entropy"]:
    j = load(n)
    p = ", ".join(f"{k}={v}" for k, v in j["params"].items())
    print(f"| {j['strategy']} | {p} | {100*j['accuracy']:.1f}% | {100*j['coverage']:.1f}% | {j['mean_tokens']:.0f} | {j['mean_forward_passes']:.0f} | {j['mean_wall_seconds']:.2f} |")
print("\nCoverage (some sampled solution correct) and majority-vote accuracy for k samples (self-consistency, T=0.8):\n")
print("| k | coverage | majority vote | mean tokens |\n|---|---|---|---|")
for k in [1, 2, 4, 8, 16, 32, 64]:
    j = load(f"cov{k}")
    print(f"| {k} | {100*j['coverage']:.1f}% | {100*j['accuracy']:.1f}% | {j['mean_tokens']:.0f} |")
PY
echo "wrote $OUT" >&2
