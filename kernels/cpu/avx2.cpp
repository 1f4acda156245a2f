// AVX2+FMA+F16C kernels (this file alone is compiled with those flags).
#define RS_VNNI 0
#define RS_SIMD_NS avx2
#include "cpu/simd_impl.h"

namespace rs::kernels {

const KernelTable kAvx2Table = {
    .isa = Isa::Avx2,
    .dot_f32 = avx2::dot_f32,
    .dot_f16 = avx2::dot_f16,
    .dot_bf16 = avx2::dot_bf16,
    .dot_q4_0 = avx2::dot_q4_0,
    .dot_q5_0 = avx2::dot_q5_0,
    .dot_q8_0 = avx2::dot_q8_0,
    .dot_q4_k = avx2::dot_q4_k,
    .dot_q6_k = avx2::dot_q6_k,
    .dot_q2_k = avx2::dot_q2_k,
    .dot_q3_k = avx2::dot_q3_k,
    .dot_q5_k = avx2::dot_q5_k,
    .dot_iq4_xs = avx2::dot_iq4_xs,
    .dot_iq4_nl = avx2::dot_iq4_nl,
    .dot_mxfp4 = avx2::dot_mxfp4,
    .dot_q5_1 = avx2::dot_q5_1,
    .dot_f32_tiled = avx2::dot_f32_tiled,
    .dot_f16_tiled = avx2::dot_f16_tiled,
    .gemm_q4_0 = avx2::gemm_q4_0,
    .gemm_q4_0_packed = avx2::gemm_q4_0_packed,
    .gemm_q5_0_packed = kScalarTable.gemm_q5_0_packed,  // (packed for AVX-512 only)
    .gemm_q4_k_packed = avx2::gemm_q4_k_packed,
    .gemm_q5_k_packed = avx2::gemm_q5_k_packed,
    .gemm_q6_k_packed = avx2::gemm_q6_k_packed,
    .gemm_q8_0 = nullptr,  // dot_q8_0 row by row
    .gemm_q5_0 = nullptr,
    .quantize_q8_0 = avx2::quantize_q8_0,
    .quantize_q8_k = kScalarTable.quantize_q8_k,
    .f32_to_f16 = avx2::f32_to_f16,
    .swiglu = avx2::swiglu,
    .rmsnorm = avx2::rmsnorm,
    .rope = avx2::rope,
    .exp_f32 = kScalarTable.exp_f32,
    .sum_f32 = avx2::sum_f32,
    .softmax_stats = avx2::softmax_stats,
    .max_f32 = avx2::max_f32,
    .sample_buckets = kScalarTable.sample_buckets,
    .bucket_members = kScalarTable.bucket_members,
    .logits_max = avx2::logits_max,
    .exp_sum = avx2::exp_sum,
    .buckets_stats = avx2::buckets_stats,
    .attn_f16 = avx2::attn_f16,
    .attn_f32 = avx2::attn_f32,
};

}  // namespace rs::kernels
