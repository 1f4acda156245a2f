#include "reasonscope/trace_diff.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "reasonscope/run_export.h"

namespace rs {

std::vector<TraceToken> chosen_trace(const StoredRun& r) {
    std::vector<TraceToken> out;
    int step = 0;
    for (int id : chosen_path(r)) {
        const Node& n = r.tree.at(id);
        if (n.parent < 0) continue;  // the prompt
        ++step;
        if (n.tokens.empty()) {
            // A step imported without its tokens: its text is one piece.
            if (!n.text.empty()) out.push_back({-1, n.text, id, step});
            continue;
        }
        for (const TokenRecord& t : n.tokens) out.push_back({t.id, t.piece, id, step});
    }
    return out;
}

namespace {

bool same_token(const TraceToken& x, const TraceToken& y) {
    // Ids alone would match different text across two vocabularies.
    return x.id == y.id && x.piece == y.piece;
}

}  // namespace

TraceDiff diff_traces(const std::vector<TraceToken>& a, const std::vector<TraceToken>& b,
                      size_t max_cells) {
    TraceDiff d;
    const size_t na = a.size(), nb = b.size();
    size_t pre = 0;
    while (pre < na && pre < nb && same_token(a[pre], b[pre])) ++pre;
    d.common_prefix = pre;
    d.identical = pre == na && pre == nb;
    size_t suf = 0;
    while (suf < na - pre && suf < nb - pre && same_token(a[na - 1 - suf], b[nb - 1 - suf])) ++suf;
    d.common_suffix = suf;
    d.entries.reserve(std::max(na, nb));
    for (size_t i = 0; i < pre; ++i)
        d.entries.push_back({TraceDiff::Op::Same, static_cast<int>(i), static_cast<int>(i)});
    d.same = pre + suf;

    // The middle: a[pre, ea) against b[pre, eb). Past max_cells, the LCS
    // covers a square window after the divergence (where it matters most)
    // and the rest of each middle follows whole.
    const size_t ea = na - suf, eb = nb - suf;
    size_t ma = ea - pre, mb = eb - pre;
    if (ma > 0 && mb > 0 && ma * mb > max_cells) {
        const auto side = static_cast<size_t>(std::sqrt(static_cast<double>(max_cells)));
        ma = std::min(ma, side);
        mb = std::min(mb, side);
        d.exact = false;
    }
    if (ma > 0 && mb > 0) {
        // lcs[i][j]: LCS length of a[pre+i ..] and b[pre+j ..]; the table
        // is bounded by max_cells, so min(ma, mb) fits 32 bits.
        const size_t w = mb + 1;
        std::vector<uint32_t> lcs((ma + 1) * w, 0);
        for (size_t i = ma; i-- > 0;)
            for (size_t j = mb; j-- > 0;)
                lcs[i * w + j] = same_token(a[pre + i], b[pre + j])
                                     ? lcs[(i + 1) * w + j + 1] + 1
                                     : std::max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
        size_t i = 0, j = 0;
        while (i < ma || j < mb) {
            if (i < ma && j < mb && same_token(a[pre + i], b[pre + j])) {
                d.entries.push_back(
                    {TraceDiff::Op::Same, static_cast<int>(pre + i), static_cast<int>(pre + j)});
                ++d.same;
                ++i;
                ++j;
            } else if (j == mb || (i < ma && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
                d.entries.push_back({TraceDiff::Op::OnlyA, static_cast<int>(pre + i), -1});
                ++i;
            } else {
                d.entries.push_back({TraceDiff::Op::OnlyB, -1, static_cast<int>(pre + j)});
                ++j;
            }
        }
    } else {
        ma = mb = 0;  // one side has no middle: the other's is all its own
    }
    for (size_t i = pre + ma; i < ea; ++i)
        d.entries.push_back({TraceDiff::Op::OnlyA, static_cast<int>(i), -1});
    for (size_t j = pre + mb; j < eb; ++j)
        d.entries.push_back({TraceDiff::Op::OnlyB, -1, static_cast<int>(j)});
    for (size_t k = 0; k < suf; ++k)
        d.entries.push_back(
            {TraceDiff::Op::Same, static_cast<int>(ea + k), static_cast<int>(eb + k)});
    return d;
}

}  // namespace rs
