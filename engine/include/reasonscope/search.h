// SearchContext: the only thing a strategy touches. It grows the reasoning
// tree through the generator seam (generator.h: the local engine or a remote
// server; children fork their parent's sequence, so a shared prefix is never
// recomputed), extends all requested branches one token per batch, scores and prunes nodes,
// extracts answers, enforces budgets and cancellation, and emits every RunEvent itself; its tree is
// those events applied (events.h: apply_event()).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reasonscope/events.h"
#include "reasonscope/generator.h"
#include "reasonscope/params.h"
#include "reasonscope/sampling.h"
#include "reasonscope/task.h"
#include "reasonscope/tree.h"

namespace rs {

class SearchContext;

// Maps a node to a value (higher is better), usually in [0, 1].
class Scorer {
  public:
    virtual ~Scorer() = default;
    virtual std::string id() const = 0;
    virtual double score(SearchContext& ctx, int node) = 0;
};

// Scorers are found by id in a process-wide registry. "answer" (task answer
// check) and "logprob" (path mean token probability) are built in; the
// others are plugins (plugins/scorers/*, registered by the plugin manager
// when it scans): "prm", "self-eval", "latent", "prm-model". A scorer reads
// its options from RunConfig::scorer_options (defaults in its metadata).
struct ScorerInfo {
    std::string id, name, description, reference;
    std::vector<ParamSpec> options;  // name, type, default, help (for scorer_options)
    std::string source;              // "built-in" or the plugin's path
    std::vector<std::string> needs;  // generator capabilities it needs (strategy.h)
};
using ScorerFactory = std::function<std::unique_ptr<Scorer>()>;
// Adds a scorer; the same id from the same source replaces the entry, from
// another source it throws rs::Error naming both.
void register_scorer(const ScorerInfo& info, ScorerFactory factory);
std::vector<ScorerInfo> scorers();                     // sorted by id
const ScorerInfo* find_scorer(const std::string& id);  // null if unknown
// Throws rs::Error for an unknown id, listing the known ones.
std::unique_ptr<Scorer> make_scorer(const std::string& id);
std::vector<std::string> scorer_ids();
// Metadata JSON {id, name, description, reference, options: [...]} as the
// strategies' parameters; throws rs::Error when malformed.
ScorerInfo scorer_info_from_json(const nlohmann::json& j);
class SearchContext;
// A scorer's option `name`: RunConfig::scorer_options if set, else the
// default in its metadata. Throws rs::Error if the scorer has no such option.
std::string scorer_option(const SearchContext& ctx, const std::string& scorer,
                          const std::string& name);

// Where a model thinks (its markers: "<think>"/"</think>", gpt-oss's analysis
// channel, Gemma's thought channel, ...), and budget forcing (s1, Muennighoff
// et al. 2025): at `max_tokens` thinking tokens on a path, `close_text` is
// forced and the answer follows; below `min_tokens`, the model's end of
// thinking (or of generation) becomes `wait_text` and thinking goes on.
struct ThinkingConfig {
    std::string open, close;   // empty: the run knows no thinking span
    bool starts_open = false;  // the prompt leaves a span open (R1-style templates)
    int min_tokens = 0;
    int max_tokens = 0;  // 0 = no limit
    std::string wait_text = "Wait";
    std::string close_text;  // default: "\n" + close + "\n\n"
    bool enabled() const { return !open.empty() && !close.empty(); }
    std::string forced_close() const {
        return close_text.empty() ? "\n" + close + "\n\n" : close_text;
    }
};

// Known thinking syntaxes, and the one a chat template (or else the
// vocabulary) uses; none (empty markers) when neither shows one.
ThinkingConfig detect_thinking(const std::string& chat_template, const Tokenizer& tok);
// Whether `text` ends inside a thinking span (its last open marker comes
// after its last close marker).
bool ends_in_thinking(const std::string& text, const ThinkingConfig& t);

// Step delimiters from a setting: "line" ("\n"), "paragraph" ("\n\n"), or
// delimiters separated by '|' with \n, \t, \| and \\ escapes. Throws
// rs::Error for an empty one.
std::vector<std::string> parse_step_delimiters(const std::string& setting);

struct RunConfig {
    SamplingParams sampling;
    // A step ends where its text reaches one of these after some
    // non-blank text (or at max_step_tokens).
    std::vector<std::string> step_delimiters = {"\n"};
    int max_step_tokens = 96;
    int max_depth = 24;
    int64_t max_tokens = 0;  // generated tokens; 0 = no limit
    int64_t max_passes = 0;  // forward passes; 0 = no limit
    double max_seconds = 0;  // wall time; 0 = no limit
    // Scorer options (name -> value, strings as given on the command line);
    // a scorer falls back to its metadata's defaults.
    std::map<std::string, std::string> scorer_options;
    // Hidden-state taps: residual stream at the end of each step at these
    // layers (-1 = after the final norm). Empty: off (no cost).
    std::vector<int> tap_layers;
    // The prompt as the model sees it when a chat template was applied
    // (special tokens written as text are parsed; BOS added only when the
    // model wants one and the text lacks it); empty: the task's prompt.
    std::string rendered_prompt;
    ThinkingConfig thinking;
};

// Thrown by SearchContext::expand_many() when a strategy keeps asking for
// children after the budget is spent or the run was cancelled (the first
// requests get no children; see kStopRefusals). Not a std::exception, so a
// strategy's own catch of those does not swallow it; run_strategy() ends the
// run as `budget` or `cancelled`.
struct SearchStopped {};

class SearchContext {
  public:
    SearchContext(Generator& gen, Task task, RunConfig config,
                  std::vector<RunObserver*> observers = {});
    ~SearchContext();
    SearchContext(const SearchContext&) = delete;
    SearchContext& operator=(const SearchContext&) = delete;

    const ReasoningTree& tree() const { return tree_; }
    const Node& node(int id) const { return tree_.at(id); }
    int root() const { return 0; }
    const Task& task() const { return task_; }
    const RunConfig& config() const { return cfg_; }
    // The model's tokenizer, and what its generator can do (strategies and
    // scorers see nothing else of the engine).
    const Tokenizer& tokenizer() const { return gen_.tokenizer(); }
    GeneratorCaps caps() const { return gen_.caps(); }
    int n_ctx() const { return gen_.n_ctx(); }  // tokens a sequence (or scorer prompt) may hold

    // Decodes n new child steps of `node` (all in one batch per token).
    // `temperature` >= 0 overrides the run's sampling temperature for these children.
    std::vector<int> expand(int node, int n, float temperature = -1.0f);
    // Several nodes at once: (node, children) pairs, one batch for all.
    std::vector<int> expand_many(const std::vector<std::pair<int, int>>& requests,
                                 float temperature = -1.0f);
    // As expand_many(), one child per (node, token) pair whose step starts
    // with that token (CoT-decoding branches on the first token), chosen by
    // the strategy; the step then goes on as sampled. Throws rs::Error with
    // thinking budgets (min/max tokens).
    std::vector<int> expand_with_first(const std::vector<std::pair<int, TokenId>>& requests,
                                       float temperature = -1.0f);
    // Extends each node one step at a time until it is terminal (or the
    // depth/budget limit); returns the leaf reached from each input.
    std::vector<int> complete(const std::vector<int>& nodes);

    // Token-level search (token-level beam search, CoT-decoding): the `k`
    // most likely next tokens after each node's path, (id, log-probability)
    // under the raw distribution (temperature 1, no penalties), most likely
    // first; one batched pass, the nodes unchanged. Each node must be
    // expandable. The pass is kept: growing a node by its most likely token
    // next (grow_tokens) costs nothing more. Once stopped: empty, as
    // expand_many(). Throws rs::Error with thinking budgets (min/max tokens).
    std::vector<std::vector<std::pair<TokenId, float>>> next_tokens(const std::vector<int>& nodes,
                                                                    int k);
    // Grows the tree by chosen tokens, one batched pass for all requests:
    // `child` starts a new child step of `node` with `token`; otherwise the
    // token is appended to `node` itself (a step with no children), so a run
    // of single choices stays one node. Tokens are forced, their signals
    // those of the raw distribution. A step is checked for an answer (and
    // made terminal) where a token ends a line or generation, as expand()
    // does. Returns the node each token went to, -1 where refused (the
    // context is full); empty once stopped.
    struct TokenGrowth {
        int node = -1;
        TokenId token = -1;
        bool child = false;
    };
    std::vector<int> grow_tokens(const std::vector<TokenGrowth>& requests);

    // A check after every token a step gets (DeepConf's online mode stops a
    // trace mid-step): returning true ends the step at that token, neither
    // terminal nor pruned, so the strategy decides what follows. Empty: off.
    void set_token_check(std::function<bool(int node)> check) { token_check_ = std::move(check); }

    double score(int node, Scorer& scorer);
    void set_score(int node, const std::string& key, double value);
    void prune(int node);
    void backpropagate(int node, double value);  // visits/value along the path
    bool can_expand(int node) const;             // open, below max depth, KV alive
    bool is_terminal(int node) const { return tree_.at(node).status == NodeStatus::Terminal; }
    std::string path_text(int node) const { return tree_.path_text(node); }

    // Budget and control: strategies check should_stop() between steps. The
    // runtime enforces them too: once stopped, expand_many() creates no
    // children, and after kStopRefusals such requests it throws SearchStopped.
    // A request whose branches could not hold one step each in the whole KV
    // cache is refused at once (rs::Error saying how much it needs).
    static constexpr int kStopRefusals = 1000;
    bool should_stop();
    bool budget_exhausted() const;
    // Whether the run was cancelled (safe from any thread: a watchdog reads it).
    bool cancel_requested() const { return cancel_ && cancel_->load(); }
    void set_control(std::atomic<bool>* cancel, std::atomic<bool>* pause) {
        cancel_ = cancel;
        pause_ = pause;
    }
    // The strategy's final choice (emits AnswerFound for the run).
    void choose_answer(const std::string& answer, int node = -1);
    const std::string& chosen_answer() const { return final_answer_; }
    int chosen_node() const { return final_node_; }

    RunMetrics metrics() const;
    void publish_metrics();
    void finish(const std::string& reason);  // emits RunFinished

    // Scratch evaluation on a fresh sequence (for model-based scorers):
    // the next-token log-probabilities after `text` (BOS added).
    std::vector<float> next_token_logprobs(const std::string& text);
    // log P(continuation | prefix) under the model, by teacher forcing.
    double continuation_logprob(const std::string& prefix, const std::string& continuation);
    // Random number for strategy decisions, from the run seed and a counter.
    double uniform(uint64_t stream, uint64_t counter) const;

  private:
    // Where a path stands in its thinking span.
    struct ThinkState {
        bool in = false;              // inside the span now
        bool closing = false;         // the close is being forced
        int tokens = 0;               // thinking tokens on the path so far
        std::string tail;             // the last bytes generated (markers span tokens)
        std::vector<TokenId> forced;  // tokens the run puts next ("Wait", the close)
    };
    struct Branch {
        int seq = -1;  // the generator's sequence: every token of the path, the last pending
        ThinkState think;
    };
    // expand_many(); `first`: each request's first token (by request), if any.
    std::vector<int> expand_impl(const std::vector<std::pair<int, int>>& requests,
                                 float temperature, const std::vector<TokenId>& first);
    // True (and counted; thrown past kStopRefusals) when cancelled or a
    // budget is spent: the growing calls then return nothing.
    bool refused_when_stopped();
    void wait_while_paused() const;
    void after_pass();  // KV peak, and the metrics at most every 100 ms
    TokenRecord token_record(TokenSignals&& sig) const;
    bool ends_step(const std::string& text, size_t piece_len) const;
    bool step_complete(const Node& n) const;
    void plan_thinking(ThinkState& st, ExtendRequest& rq) const;
    void track_thinking(ThinkState& st, TokenRecord& rec, const ExtendRequest& rq,
                        const Tokenizer& tok) const;
    // Applies e to tree_ (the only way tree_ changes), then tells the
    // observers. (Not "emit": that is a Qt macro.)
    void publish(RunEvent e);
    double seconds_since_start() const;
    // `line`: the step's text to read an answer from (grow_tokens: the line
    // just completed); by default the node's.
    void mark_terminal_if_answered(int node, const std::string* line = nullptr);
    std::string last_line(int node) const;
    void release_branch(int node);
    // Throws rs::Error when `requests` could not hold one step each (up to
    // max_step_tokens) even in an empty KV cache.
    void check_kv_room(const std::vector<std::pair<int, int>>& requests) const;
    // next_tokens()' pass for a node: a fork of its branch whose pending
    // token is the most likely one, with that token's signals.
    struct Peek {
        int seq = -1;
        TokenSignals sig;
        std::vector<float> hidden;  // the pass's taps (when on)
    };
    void drop_peek(int node);
    std::map<int, Peek> peeks_;

    Generator& gen_;
    Task task_;
    RunConfig cfg_;
    std::vector<RunObserver*> observers_;
    ReasoningTree tree_;
    std::map<int, Branch> branches_;
    std::atomic<bool>* cancel_ = nullptr;
    std::atomic<bool>* pause_ = nullptr;
    std::chrono::steady_clock::time_point t0_;
    int64_t passes0_ = 0, tokens_ = 0, kv_peak_ = 0;
    int refusals_ = 0;  // expand requests refused since the run stopped
    std::string final_answer_;
    int final_node_ = -1;
    AnswerRule answer_rule_;    // the task's, parsed once
    TokenId close_token_ = -1;  // the thinking close marker when it is one token
    std::vector<TokenId> wait_tokens_, close_tokens_, eog_tokens_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point last_metrics_;
    std::function<bool(int)> token_check_;
};

}  // namespace rs
