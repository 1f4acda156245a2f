// MoE routing shared by every backend (backend.h): the experts chosen and
// their weights from each row's router logits.
#include <algorithm>
#include <vector>

#include "cpu/arch_ops.h"
#include "reasonscope/backend.h"
#include "reasonscope/error.h"
#include "reasonscope/model.h"

namespace rs {

void check_moe_shapes(const MoeSpec& sp, int D, int logit_cols) {
    const int E = sp.n_experts, k = sp.n_used;
    if (!sp.gate || !sp.up || !sp.down || E <= 0 || k <= 0 || k > E || logit_cols != E ||
        sp.gate->rows % E != 0 || sp.gate->cols != D || sp.up->rows != sp.gate->rows ||
        sp.up->cols != D || sp.down->rows != int64_t{E} * D || sp.down->cols != sp.gate->rows / E)
        throw Error("moe: inconsistent expert shapes");
}

void moe_route(const MoeSpec& sp, const float* logits, int rows, int* sel_out, float* w_out) {
    const int E = sp.n_experts, k = sp.n_used;
    std::vector<float> p(static_cast<size_t>(E));
    std::vector<int> idx(static_cast<size_t>(E));
    for (int r = 0; r < rows; ++r) {
        const float* lr = logits + static_cast<size_t>(r) * E;
        std::copy(lr, lr + E, p.begin());
        if (sp.gating == MoeSpec::Gating::Softmax) kernels::softmax(p.data(), E);
        for (int e = 0; e < E; ++e) idx[static_cast<size_t>(e)] = e;
        std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
            const float pa = p[static_cast<size_t>(a)], pb = p[static_cast<size_t>(b)];
            return pa > pb || (pa == pb && a < b);
        });
        int* sel = sel_out + static_cast<size_t>(r) * k;
        float* w = w_out + static_cast<size_t>(r) * k;
        for (int j = 0; j < k; ++j) {
            sel[j] = idx[static_cast<size_t>(j)];
            w[j] = p[static_cast<size_t>(sel[j])];
        }
        if (sp.gating == MoeSpec::Gating::SoftmaxSelected) kernels::softmax(w, k);
        if (sp.norm_weights) {
            double sum = 0;
            for (int j = 0; j < k; ++j) sum += static_cast<double>(w[j]);
            const float div = std::max(static_cast<float>(sum), 6.103515625e-5f);
            for (int j = 0; j < k; ++j) w[j] /= div;
        }
    }
}

}  // namespace rs
