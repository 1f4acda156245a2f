// AVX-512 (F, BW, VL, VNNI) kernels: the 256-bit code of simd_impl.h with
// vpdpbusd for int8 dot products (this file alone is compiled with those flags).
#define RS_VNNI 1
#define RS_SIMD_NS avx512
// GCC 12 flags the deliberately undefined upper lanes inside its own 512-bit
// intrinsics (_mm512_undefined_*) as (maybe-)uninitialized; a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "cpu/simd_impl.h"

namespace rs::kernels {

const KernelTable kAvx512Table = {
    .isa = Isa::Avx512,
    .dot_f32 = avx512::dot_f32,
    .dot_f16 = avx512::dot_f16,
    .dot_bf16 = avx512::dot_bf16,
    .dot_q4_0 = avx512::dot_q4_0,
    .dot_q5_0 = avx512::dot_q5_0,
    .dot_q8_0 = avx512::dot_q8_0,
    .dot_q4_k = avx512::dot_q4_k,
    .dot_q6_k = avx512::dot_q6_k,
    .dot_q2_k = avx512::dot_q2_k,
    .dot_q3_k = avx512::dot_q3_k,
    .dot_q5_k = avx512::dot_q5_k,
    .dot_iq4_xs = avx512::dot_iq4_xs,
    .dot_iq4_nl = avx512::dot_iq4_nl,
    .dot_mxfp4 = avx512::dot_mxfp4,
    .dot_q5_1 = avx512::dot_q5_1,
    .dot_f32_tiled = avx512::dot_f32_tiled,
    .dot_f16_tiled = avx512::dot_f16_tiled,
    .gemm_q4_0 = avx512::gemm_q4_0,
    .gemm_q4_0_packed = avx512::gemm_q4_0_packed,
    .gemm_q5_0_packed = avx512::gemm_q5_0_packed,
    .gemm_q4_k_packed = avx512::gemm_q4_k_packed,
    .gemm_q5_k_packed = avx512::gemm_q5_k_packed,
    .gemm_q6_k_packed = avx512::gemm_q6_k_packed,
    .gemm_q8_0 = avx512::gemm_q8_0,
    .gemm_q5_0 = avx512::gemm_q5_0,
    .quantize_q8_0 = avx512::quantize_q8_0,
    .quantize_q8_k = kScalarTable.quantize_q8_k,
    .f32_to_f16 = avx512::f32_to_f16,
    .swiglu = avx512::swiglu,
    .rmsnorm = avx512::rmsnorm,
    .rope = avx512::rope,
    .exp_f32 = avx512::expf_libm,
    .sum_f32 = avx512::sum_f32,
    .softmax_stats = avx512::softmax_stats,
    .max_f32 = avx512::max_f32,
    .sample_buckets = avx512::sample_buckets,
    .bucket_members = avx512::bucket_members,
    .logits_max = avx512::logits_max,
    .exp_sum = avx512::exp_sum,
    .buckets_stats = avx512::buckets_stats,
    .attn_f16 = avx512::attn_f16,
    .attn_f32 = avx512::attn_f32,
};

}  // namespace rs::kernels
