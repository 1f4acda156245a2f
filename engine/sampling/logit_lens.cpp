#include "reasonscope/logit_lens.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/llama.h"
#include "reasonscope/error.h"
#include "reasonscope/sampling.h"

namespace rs {
namespace {

// Releases the scratch sequence however the lens ends.
struct ScratchSeq {
    Session& s;
    int seq;
    ~ScratchSeq() { s.release(seq); }
};

// Activation slots of the head pass (any: a pass's slots are its own).
enum Slot { kResidual, kA, kB };

}  // namespace

LogitLens logit_lens(Session& session, std::span<const TokenId> tokens, int position, int k) {
    const Model& model = session.model();
    const ModelConfig& c = model.config();
    const int L = c.n_layers, D = c.dim, V = c.n_vocab;
    const int n = static_cast<int>(tokens.size());
    if (n == 0) throw Error("logit lens: no tokens");
    if (position < 1 || position > n)
        throw Error("logit lens: position " + std::to_string(position) + " is outside 1.." +
                    std::to_string(n) + " (the prediction of token `position` from the ones " +
                    "before it; " + std::to_string(n) + " = the token after the last)");
    if (k < 1) throw Error("logit lens: top-k must be at least 1 (got " + std::to_string(k) + ")");
    if (position > session.n_ctx())
        throw Error("logit lens: the prefix of " + std::to_string(position) +
                    " tokens does not fit the context of " + std::to_string(session.n_ctx()));
    Backend& be = session.backend();
    if (!be.caps().hidden_taps)
        throw Error("logit lens: backend '" + be.name() + "' has no hidden-state taps");
    k = std::min(k, V);

    // The prefix, then its last token with a tap after every layer: hidden
    // is (1, L, D), the residual stream that predicts tokens[position].
    std::vector<int> layers(static_cast<size_t>(L));
    for (int l = 0; l < L; ++l) layers[static_cast<size_t>(l)] = l;
    std::vector<float> hidden;
    // (alive through the second pass too: its rows name the sequence, and a
    // device backend reads their block tables)
    ScratchSeq scratch{session, session.create()};
    if (position > 1) session.eval(scratch.seq, tokens.first(static_cast<size_t>(position - 1)));
    const TokenId tok = tokens[static_cast<size_t>(position - 1)];
    const int seqs[1] = {scratch.seq};
    session.decode(seqs, std::span(&tok, 1), layers, hidden);
    const BatchRow last{scratch.seq, position - 1, tok, true, false};

    // Every layer's residual through the graph's own last step (final norm,
    // output matrix) as rows of one pass on the session's backend: the last
    // layer's row is then the model's logits, up to the batch's row count.
    std::vector<BatchRow> rows(static_cast<size_t>(L), last);
    std::vector<float> logits(static_cast<size_t>(L) * static_cast<size_t>(V));  // (L, V)
    Pass pass;
    pass.rows = rows;
    pass.kv = &session.kv();
    pass.logits = logits.data();
    be.begin_pass(pass);
    const Act x = be.act(kResidual, L, D);
    be.upload(hidden.data(), x);
    output_rows(model, be, pass, x, kA, kB);
    be.end_pass();  // (a device's logits are in host memory after it)

    LogitLens out;
    out.position = position;
    out.target = position < n ? tokens[static_cast<size_t>(position)] : -1;
    if (out.target >= 0 && out.target < V)
        out.target_piece = model.tokenizer().token_to_piece(out.target, true);
    out.layers.resize(static_cast<size_t>(L));
    for (int l = 0; l < L; ++l) {
        const float* row = logits.data() + static_cast<size_t>(l) * static_cast<size_t>(V);
        for (int i = 0; i < V; ++i)
            if (!std::isfinite(row[i]))
                throw Error("logit lens: layer " + std::to_string(l) +
                            " gives a non-finite logit (token " + std::to_string(i) + ")");
        TokenSignals sig;
        distribution_signals(row, V, 1.0f, k, sig);
        LogitLensLayer& ll = out.layers[static_cast<size_t>(l)];
        ll.layer = l;
        ll.entropy = sig.entropy;
        ll.top.reserve(sig.top.size());
        for (const auto& [id, lp] : sig.top) {
            ll.top.emplace_back(id, std::exp(lp));
            ll.pieces.push_back(model.tokenizer().token_to_piece(id, true));
        }
        if (out.target >= 0 && out.target < V) {
            const float t = row[out.target];
            float mx = row[0];
            for (int i = 1; i < V; ++i) mx = std::max(mx, row[i]);
            double z = 0;
            int rank = 0;
            for (int i = 0; i < V; ++i) {
                z += std::exp(static_cast<double>(row[i]) - mx);
                rank += row[i] > t || (row[i] == t && i < out.target);
            }
            ll.target_prob = static_cast<float>(std::exp(static_cast<double>(t) - mx) / z);
            ll.target_rank = rank;
        }
    }
    return out;
}

}  // namespace rs
