#include "core/answer_entropy.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/trace_tokens.h"
#include "reasonscope/error.h"
#include "reasonscope/sampling.h"

namespace rs::app {
namespace {

// A sampled token; the sampler gives -1 when the logits are not numbers.
TokenId sampled(const TokenSignals& sig, int pos) {
    if (sig.token < 0)
        throw Error(
            "answer entropy: the model's logits are not numbers (NaN or +inf) at "
            "position " +
            std::to_string(pos));
    return sig.token;
}

nlohmann::json prompt_settings(const RunRow& run) {
    nlohmann::json j = nlohmann::json::parse(run.prompt_settings, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
}

std::string string_field(const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

AnswerRule run_answer_rule(const RunRow& run) {
    const nlohmann::json ps = prompt_settings(run);
    AnswerRule r;
    const std::string fmt = string_field(ps, "answer_format");
    r.format = fmt.empty() ? AnswerFormat::Auto : parse_answer_format(fmt);
    r.pattern = string_field(ps, "answer_pattern");
    if (r.format == AnswerFormat::Regex && r.pattern.empty()) r.format = AnswerFormat::Auto;
    return r;
}

std::string thinking_close(const RunRow& run) {
    const nlohmann::json ps = prompt_settings(run);
    if (!ps.contains("thinking") || !ps["thinking"].is_object()) return {};
    return string_field(ps["thinking"], "close");
}

// A sequence of the session, released however the computation ends.
struct Seq {
    Session& s;
    int id;
    Seq(Session& s_, int id_) : s(s_), id(id_) {}
    Seq(const Seq&) = delete;
    Seq& operator=(const Seq&) = delete;
    ~Seq() { s.release(id); }
};

double entropy_of_counts(const std::vector<std::pair<std::string, int>>& counts, int total) {
    double h = 0;
    for (const auto& [a, c] : counts) {
        const double p = static_cast<double>(c) / total;
        if (p > 0) h -= p * std::log(p);
    }
    return std::max(0.0, h);
}

// The entropy of the first answer token's distribution. The model's sure
// whitespace after the cue (" " after "Answer:") is not the answer: while
// the most likely token is blank and above one half, it is fed on a fork of
// the cued sequence and the next distribution is taken.
double first_answer_token_entropy(Session& session, int cued, const std::vector<float>& logits) {
    const Tokenizer& tok = session.model().tokenizer();
    const int V = session.n_vocab();
    TokenSignals sig;
    distribution_signals(logits.data(), V, 1.0f, 1, sig);
    std::unique_ptr<Seq> probe;
    for (int i = 0; i < 4 && !sig.top.empty() && std::exp(sig.top[0].second) > 0.5f; ++i) {
        const TokenId top = sig.top[0].first;
        const std::string piece = tok.token_to_piece(top);
        if (tok.is_eog(top) || piece.empty() || piece.find_first_not_of(" \t") != std::string::npos)
            break;
        if (!probe) probe = std::make_unique<Seq>(session, session.fork(cued));
        if (session.length(probe->id) + 1 >= session.n_ctx()) break;
        const std::vector<float> next = session.eval(probe->id, std::span(&top, 1));
        distribution_signals(next.data(), V, 1.0f, 1, sig);
    }
    return sig.entropy;
}

}  // namespace

std::string answer_cue(const RunRow& run, bool inside_thinking) {
    const AnswerRule rule = run_answer_rule(run);
    const std::string close = thinking_close(run);
    // Inside the thinking span the model must close it before it answers.
    const std::string pre = inside_thinking && !close.empty() ? close + "\n\n" : "";
    switch (rule.format) {
        case AnswerFormat::Boxed:
            return pre + "The final answer is $\\boxed{";
        case AnswerFormat::AnswerIs:
            return pre + "The answer is ";
        case AnswerFormat::Regex:
            if (rule.pattern.find("boxed") != std::string::npos)
                return pre + "The final answer is $\\boxed{";
            if (rule.pattern.find("answer is") != std::string::npos) return pre + "The answer is ";
            return pre + "Answer:";
        case AnswerFormat::Auto:
            // A thinking model's math answers are boxed; the bundled model's are a line.
            return close.empty() ? "Answer:" : pre + "The final answer is $\\boxed{";
        case AnswerFormat::AnswerLine:
        case AnswerFormat::LastNumber:
            break;
    }
    return pre + "Answer:";
}

int default_trace_leaf(const RunRow& run, const ReasoningTree& tree) {
    if (run.chosen_node > 0 && run.chosen_node < tree.size()) return run.chosen_node;
    int deepest = -1;
    for (int id : tree.leaves()) {
        const Node& n = tree.at(id);
        if (n.status == NodeStatus::Terminal && id > 0) return id;
        if (deepest < 0 || n.depth > tree.at(deepest).depth) deepest = id;
    }
    return deepest;
}

std::vector<StepAnswerEntropy> answer_entropy(Session& session, const RunRow& run,
                                              const ReasoningTree& tree, int leaf,
                                              const AnswerEntropyOptions& opt) {
    if (opt.samples < 1 || opt.samples > 1024)
        throw Error("answer entropy: samples must be 1..1024 (got " + std::to_string(opt.samples) +
                    ")");
    if (opt.max_answer_tokens < 1 || opt.max_answer_tokens > 1024)
        throw Error("answer entropy: answer tokens must be 1..1024 (got " +
                    std::to_string(opt.max_answer_tokens) + ")");
    if (leaf < 0 || leaf >= tree.size())
        throw Error("answer entropy: node " + std::to_string(leaf) + " is not in run " +
                    std::to_string(run.id) + " (it has nodes 0.." +
                    std::to_string(tree.size() - 1) + ")");
    const std::vector<int> path = tree.path(leaf);
    if (path.size() < 2)
        throw Error("answer entropy: node " + std::to_string(leaf) +
                    " is the prompt; choose a step of a trace");
    const Tokenizer& tok = session.model().tokenizer();
    const int V = session.n_vocab();
    const AnswerRule rule = run_answer_rule(run);
    const bool boxed_cue = [&] {
        const std::string c = opt.cue.empty() ? answer_cue(run, false) : opt.cue;
        return c.find("\\boxed{") != std::string::npos;
    }();

    SamplingParams sp;
    sp.temperature = 1.0f;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    sp.repeat_penalty = 1.0f;
    sp.seed = opt.seed;
    sp.n_alternatives = 1;
    const Sampler sampler(sp);

    const std::vector<TokenId> prompt = run_prompt_tokens(tok, run);
    if (prompt.empty())
        throw Error("answer entropy: run " + std::to_string(run.id) + " has an empty prompt");
    Seq base(session, session.create());
    session.eval(base.id, prompt);
    std::string text = run.prompt_rendered.empty() ? run.prompt : run.prompt_rendered;

    std::vector<StepAnswerEntropy> out;
    for (size_t si = 1; si < path.size(); ++si) {
        const Node& node = tree.at(path[si]);
        std::vector<TokenId> step;
        for (const TokenRecord& t : node.tokens) step.push_back(t.id);
        if (!step.empty()) session.eval(base.id, step);
        text += node.text;
        const bool thinking = !node.tokens.empty() && node.tokens.back().thinking;
        std::string cue = opt.cue.empty() ? answer_cue(run, thinking) : opt.cue;
        if (!text.empty() && text.back() != '\n' && !cue.starts_with("\n")) cue = "\n" + cue;
        const std::vector<TokenId> cue_tokens = tok.encode(cue, false, true);
        if (cue_tokens.empty()) throw Error("answer entropy: the answer cue gives no tokens");

        StepAnswerEntropy r;
        r.step = static_cast<int>(si);
        r.node = path[si];
        r.prefix_tokens = session.length(base.id);
        Seq cued(session, session.fork(base.id));
        const std::vector<float> first = session.eval(cued.id, cue_tokens);
        r.first_token_entropy = first_answer_token_entropy(session, cued.id, first);

        // M answers, decoded together: each is a fork of the cued prefix.
        const int M = opt.samples;
        std::vector<std::unique_ptr<Seq>> seqs;
        std::vector<std::string> answers(static_cast<size_t>(M));
        std::vector<TokenId> pending(static_cast<size_t>(M));
        std::vector<bool> active(static_cast<size_t>(M), true);
        const int pos0 = session.length(cued.id);
        for (int j = 0; j < M; ++j) {
            seqs.push_back(std::make_unique<Seq>(session, session.fork(cued.id)));
            pending[static_cast<size_t>(j)] =
                sampled(sampler.sample(first.data(), V, {}, static_cast<uint64_t>(j), pos0), pos0);
        }
        for (int t = 0;; ++t) {
            std::vector<int> batch_seqs, batch_rows;
            std::vector<TokenId> batch_tokens;
            for (int j = 0; j < M; ++j) {
                const auto ju = static_cast<size_t>(j);
                if (!active[ju]) continue;
                const TokenId id = pending[ju];
                std::string& a = answers[ju];
                bool stop = tok.is_eog(id);
                if (!stop) {
                    const std::string piece = tok.token_to_piece(id);
                    const size_t nl = piece.find('\n');
                    const bool has_text = a.find_first_not_of(" \t") != std::string::npos;
                    if (nl != std::string::npos && (has_text || nl > 0)) {
                        a += piece.substr(0, nl);  // the answer's line ends here
                        stop = true;
                    } else {
                        a += piece;
                        stop = boxed_cue && last_boxed("\\boxed{" + a).has_value();
                    }
                }
                if (stop || t + 1 >= opt.max_answer_tokens ||
                    session.length(seqs[ju]->id) + 1 >= session.n_ctx()) {
                    active[ju] = false;
                    continue;
                }
                batch_seqs.push_back(seqs[ju]->id);
                batch_rows.push_back(j);
                batch_tokens.push_back(id);
            }
            if (batch_seqs.empty()) break;
            const std::vector<float> logits = session.decode(batch_seqs, batch_tokens);
            for (size_t b = 0; b < batch_rows.size(); ++b) {
                const auto ju = static_cast<size_t>(batch_rows[b]);
                pending[ju] = sampled(sampler.sample(logits.data() + b * static_cast<size_t>(V), V,
                                                     {}, static_cast<uint64_t>(batch_rows[b]),
                                                     static_cast<uint64_t>(pos0 + t + 1)),
                                      pos0 + t + 1);
            }
        }
        seqs.clear();

        std::map<std::string, int> groups;
        for (const std::string& a : answers) {
            // The run's rule, else any stated answer or the last number.
            std::optional<std::string> found = find_answer(cue + a, rule, true);
            if (!found) found = find_answer(cue + a, AnswerRule{}, true);
            groups[found ? normalize_answer(*found) : std::string()]++;
        }
        r.answers.assign(groups.begin(), groups.end());
        std::stable_sort(r.answers.begin(), r.answers.end(),
                         [](const auto& x, const auto& y) { return x.second > y.second; });
        r.entropy = entropy_of_counts(r.answers, M);
        r.top_answer = r.answers.front().first;
        r.top_prob = static_cast<double>(r.answers.front().second) / M;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace rs::app
