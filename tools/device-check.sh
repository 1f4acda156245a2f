#!/usr/bin/env bash
# The CUDA backend on a GPU machine, in two halves:
#
#   tools/device-check.sh prepare   here (the development machine): builds the
#       CUDA module for sm_80 and sm_90 (SASS; PTX for newer GPUs), the
#       Qt-free rs-cuda-check and the engine into build-device/, and stages
#       them with the test models into .device/ (ignored by git, about 45 MB).
#   tools/device-check.sh run       on the GPU machine, with .device carried
#       there (its image has CUDA but not the app's Qt and Debian libraries):
#       the devices, every check of tests/backends/cuda_checks.h against the
#       CPU backend, then the speed figures of docs/performance.md
#       (bench --backend cuda on synthetic 1.5B and 8B Q4_K_M files,
#       self-consistency@64), then compute-sanitizer's memcheck and racecheck
#       on one check. Output goes to $OUT (or .device/out) as
#       device-check.log. Under 8 minutes on an H100 (estimated: never run).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

case "$mode" in
prepare)
    set -e
    archs=${RS_CUDA_ARCHITECTURES:-80-real;90-real;90-virtual}
    cmake -S . -B build-device -G Ninja -DCMAKE_BUILD_TYPE=Release -DRS_BUILD_TESTS=OFF \
        "-DRS_CUDA_ARCHITECTURES=$archs" >/dev/null
    cmake --build build-device --target rs-cuda-check reasonscope_cuda -j "$(nproc)"
    rm -rf .device
    mkdir -p .device/bin .device/lib .device/models
    cp build-device/bin/rs-cuda-check .device/bin/
    cp build-device/lib/librs_engine.so build-device/lib/reasonscope_cuda.so .device/lib/
    cp -L /lib/x86_64-linux-gnu/libpcre2-8.so.0 .device/lib/
    ref=../shared/reference/models
    # (real files of the types synth does not write; the rest are made there)
    for m in mini-llama-Q4_K_M mini-llama-Q3_K_M mini-llama-Q2_K mini-qwen2-Q8_0 \
        mini-qwen3-Q4_K_M mini-gemma3-Q4_K_M mini-phi3-f16 mini-gptoss-MXFP4 stories260K; do
        cp "$ref/$m.gguf" .device/models/
    done
    grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
    du -sh .device
    echo "ready: run 'bash tools/device-check.sh run' on the GPU machine with .device carried"
    ;;
run)
    out=${OUT:-.device/out}
    mkdir -p "$out"
    exec > >(tee "$out/device-check.log") 2>&1
    export LD_LIBRARY_PATH="$PWD/.device/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
    export RS_CUDA_MODULE="$PWD/.device/lib/reasonscope_cuda.so"
    check=.device/bin/rs-cuda-check
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    $check devices || exit 1
    status=0
    tmp=${TMPDIR:-/tmp}/rs-device
    mkdir -p "$tmp"
    echo "== checks against the CPU backend (a process each: a device fault stays in its check)"
    # SmolLM2-135M-shaped files of the types no carried file has.
    for t in Q4_0 Q5_0 Q5_1 Q5_K_M IQ4_NL IQ4_XS F16; do
        $check synth smollm2-135m $t "$tmp/s-$t.gguf" || status=1
    done
    bundled=resources/models/reasoner.gguf
    for m in $bundled .device/models/*.gguf "$tmp"/s-*.gguf; do
        timeout 90 $check check forward "$m" || status=1
    done
    for c in forward-f16 batched memory search draw; do
        timeout 120 $check check $c $bundled || status=1
    done
    echo "== speed"
    $check synth qwen2.5-1.5b Q4_K_M "$tmp/q15.gguf"
    $check synth llama3-8b Q4_K_M "$tmp/l8.gguf"
    # (sampling on the device over a 152k vocabulary, against the host's)
    timeout 120 $check check draw "$tmp/q15.gguf" || status=1
    for b in 8 64; do
        timeout 120 $check bench --backend cuda --model "$tmp/q15.gguf" --pp 512 --tg 128 \
            --branches $b --prefix 512 --json || status=1
    done
    timeout 120 $check bench --backend cuda --model "$tmp/l8.gguf" --pp 512 --tg 128 --json ||
        status=1
    timeout 60 $check sc "$tmp/q15.gguf" 64 256 cuda || status=1
    timeout 60 $check bench --backend cuda --model resources/models/reasoner.gguf --branches 64 \
        --json || status=1
    echo "== compute-sanitizer (memcheck, racecheck) on a Q4_K_M file: the tensor-core and shared-prefix kernels"
    san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
    for tool in memcheck racecheck; do
        timeout 90 "$san" --tool $tool --error-exitcode 9 $check check forward \
            .device/models/mini-qwen3-Q4_K_M.gguf 2>&1 | tail -25 || status=1
    done
    echo "device-check: $([ $status = 0 ] && echo passed || echo FAILED)"
    exit $status
    ;;
*)
    echo "usage: tools/device-check.sh prepare|run" >&2
    exit 2
    ;;
esac
