// EngineHost's on-demand probes (engine_host.h): the logit lens of a token
// and the answer entropy per step of a trace, on the engine thread.
#include <cmath>
#include <exception>

#include "core/answer_entropy.h"
#include "core/run_service.h"
#include "core/trace_tokens.h"
#include "gui/engine_host.h"
#include "reasonscope/error.h"

namespace rs::gui {

Session* EngineHost::probe_session(const RunRow& run, QString& why_not) {
    auto* local = dynamic_cast<LocalGenerator*>(gen_.get());
    if (!local || !model_) {
        why_not = gen_ ? "the engine in use is an inference server; probes need the local engine"
                       : "no model loaded";
        return nullptr;
    }
    if (running_) {
        why_not = "a run is in progress";
        return nullptr;
    }
    if (!run.model_hash.empty() && app::model_fingerprint(model_->path()) != run.model_hash) {
        why_not = QString("run %1 ran on %2; load that model first")
                      .arg(run.id)
                      .arg(QString::fromStdString(run.model_path));
        return nullptr;
    }
    return &local->session();
}

void EngineHost::compute_lens(const RunRow& run, const ReasoningTree& tree, int node, int index,
                              int k) {
    QString why;
    Session* s = probe_session(run, why);
    if (!s) {
        emit probeFailed(true, why);
        return;
    }
    try {
        if (node < 0 || node >= tree.size() ||
            index >= static_cast<int>(tree.at(node).tokens.size()) || index < 0)
            throw Error("token " + std::to_string(index) + " of node " + std::to_string(node) +
                        " is not in the run");
        const std::vector<TokenId> tokens =
            app::trace_tokens(model_->tokenizer(), run, tree, node, index + 1);
        const LogitLens lens = logit_lens(*s, tokens, static_cast<int>(tokens.size()) - 1, k);
        const QString title =
            QString("Logit lens: node %1, token %2 '%3' (position %4): each layer's prediction")
                .arg(node)
                .arg(index)
                .arg(QString::fromStdString(lens.target_piece))
                .arg(lens.position);
        emit lensReady(lens, title);
    } catch (const std::exception& e) {
        emit probeFailed(true, QString("Logit lens failed: %1").arg(e.what()));
    }
}

void EngineHost::compute_answer_entropy(const RunRow& run, const ReasoningTree& tree, int leaf,
                                        int samples) {
    QString why;
    Session* s = probe_session(run, why);
    if (!s) {
        emit probeFailed(false, why);
        return;
    }
    try {
        app::AnswerEntropyOptions opt;
        opt.samples = samples;
        const auto steps = app::answer_entropy(*s, run, tree, leaf, opt);
        views::AnswerEntropyCurve c;
        c.title =
            QString("Answer entropy per step, trace to node %1 (%2 answers each, cue '%3')")
                .arg(leaf)
                .arg(samples)
                .arg(QString::fromStdString(app::answer_cue(run, false)).replace('\n', "\\n"));
        c.max_entropy = std::log(static_cast<double>(samples));
        for (const auto& r : steps) {
            c.entropy.push_back(r.entropy);
            c.first_token.push_back(r.first_token_entropy);
            c.top_answer.push_back(QString::fromStdString(r.top_answer));
            c.top_prob.push_back(r.top_prob);
        }
        emit answerEntropyReady(c);
    } catch (const std::exception& e) {
        emit probeFailed(false, QString("Answer entropy failed: %1").arg(e.what()));
    }
}

}  // namespace rs::gui
