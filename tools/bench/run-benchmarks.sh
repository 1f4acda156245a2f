#!/usr/bin/env bash
# Reproduces docs/performance.md: synthesizes real-shape random-weight models
# (reasonscope models synth) and runs `reasonscope bench` on each, 2 threads.
# Usage: run-benchmarks.sh [WORKDIR]   (needs ~2 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=./build/bin/reasonscope
W=${1:-/tmp/reasonscope-bench}
mkdir -p "$W"
for spec in "smollm2-135m Q8_0" "smollm2-135m Q4_0" "qwen2.5-0.5b Q8_0" "qwen2.5-0.5b Q4_0" "qwen2.5-0.5b Q4_K_M" "tinyllama-1.1b Q4_0"; do
  set -- $spec
  f="$W/$1-$2.gguf"
  [ -f "$f" ] || $BIN models synth --shape "$1" --type "$2" -o "$f" >/dev/null
  $BIN bench --model "$f" --threads 2 --reps 3 --json > "$W/$1-$2.json"
  python3 - "$W/$1-$2.json" "$1 $2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {j['pp_tok_s']:.0f} | {j['tg_tok_s']:.1f} | {j['bytes_per_token']/1e6:.0f} MB | {j['read_bandwidth_gb_s']:.1f} | {j['tg_roofline_tok_s']:.0f} | {j['tg_roofline_pct']:.0f}% |")
PY
done
f="$W/qwen2.5-0.5b-Q4_0.gguf"
$BIN bench --model "$f" --threads 2 --reps 1 --pp 16 --tg 4 --branches 8 --json > "$W/branches.json"
python3 - "$W/branches.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))["branches"]
print(f"\nbranches B={b['b']} (prefix {b['prefix']}): step {b['step_ms_b']:.1f} ms vs B=1 {b['step_ms_b1']:.1f} ms, ratio {b['ratio']:.2f}; "
      f"KV {b['kv_bytes_prefix']/1e6:.1f} MB for the prefix, {b['kv_bytes_with_branches']/1e6:.1f} MB with the branches "
      f"({b['kv_bytes_if_copied']/1e6:.1f} MB if each branch copied it)")
PY
