// The engine thread. Windows never call the engine directly: they post
// requests to EngineHost, which lives on its own QThread and owns the
// model, the generator (a local session, or an inference server's
// RemoteGenerator) and the running strategy. Run events are queued by an
// observer and drained by the UI at <= 30 Hz, so the UI thread never waits
// on the engine or the database. Cancel and pause are atomic flags the
// search checks between steps.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "core/run_service.h"
#include "core/sweep.h"
#include "plugins/plugin_manager.h"
#include "reasonscope/generator.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/logit_lens.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "widgets/probe_view.h"

namespace rs::gui {

// Thread-safe queue of events from the engine thread to the UI.
class EventQueue final : public RunObserver {
  public:
    void on_event(const RunEvent& e) override {
        std::lock_guard<std::mutex> lk(mu_);
        q_.push_back(e);
    }
    std::vector<RunEvent> drain() {
        std::lock_guard<std::mutex> lk(mu_);
        std::vector<RunEvent> out;
        out.swap(q_);
        return out;
    }

  private:
    std::mutex mu_;
    std::vector<RunEvent> q_;
};

struct ModelSummary {
    QString path, name, arch, backend;
    QString backend_reason;  // why this backend: "asked for cpu", "auto: ..."
    QString kv;              // KV cache type: f16 or f32
    bool deterministic = false;
    int n_vocab = 0, layers = 0, dim = 0, ctx = 0;
    double params_m = 0;
    bool chat_template = false;  // the file has tokenizer.chat_template
    GeneratorCaps caps;          // what strategies and scorers may ask of the engine
    bool remote = false;         // on an inference server (the file: its tokenizer only)
    QString hash;  // the file's fingerprint (app::model_fingerprint), as runs store it
};

// Where the app's engine is an inference server (app/remote): the URL, the
// kind, the server's model id (empty: its first), the API key (never
// stored) and the GGUF whose tokenizer and chat template to use.
struct ServerSettings {
    QString url, kind = "openai", model, api_key, gguf;
};

// What probing a server found (RemoteGenerator's ServerInfo and caps).
struct ServerSummary {
    QString kind, url, model, version, tokenizer_check;
    int n_ctx = 0, top_k = 0;
    bool can_score = false;  // text scoring: prompt log-probabilities
};

class EngineHost : public QObject {
    Q_OBJECT
  public:
    EngineHost(const app::PluginManager* plugins, QString db_path);
    ~EngineHost() override;
    EventQueue& events() { return events_; }
    void cancel() { cancel_ = true; }
    void set_paused(bool p) { pause_ = p; }
    bool running() const { return running_; }

  public slots:
    void load_model(const QString& path, int threads, bool kv_f16, bool deterministic,
                    const QString& backend);
    // Probes the server (RemoteGenerator's constructor) and says what it
    // found: serverProbed, or serverFailed with the reason. Without `use`
    // the engine in use stays; with it, runs go to the server from then on
    // (modelLoaded follows), and a failure keeps the engine in use.
    void probe_server(const rs::gui::ServerSettings& settings, bool use);
    // Runs the request through the run service (app/core/run_service.h), on
    // this (the engine) thread: runStarted once it is stored, runFinished at
    // its end; failed for a bad request or a failed run.
    void start_run(const rs::app::RunRequest& req);
    // On-demand probes of a run (the loaded local model must be the one it
    // ran on; engine_probes.cpp): the logit lens of token `index` of `node`
    // (lensReady), and the answer entropy after each step of the trace root
    // .. leaf (answerEntropyReady); probeFailed says why not.
    void compute_lens(const rs::RunRow& run, const rs::ReasoningTree& tree, int node, int index,
                      int k);
    void compute_answer_entropy(const rs::RunRow& run, const rs::ReasoningTree& tree, int leaf,
                                int samples);
    // A sweep (app/core/sweep.h) on the engine in use, every run stored
    // and tagged (sweep, strategy, budget): sweepProgress before the first
    // run and after each, sweepPoint whenever a point gains a run, then
    // sweepFinished with the results (cut short when cancelled: cancel()
    // ends the run in progress and the sweep), or sweepFailed (a bad
    // setting, a failed run) with the results so far. running() is true
    // meanwhile, so no single run starts beside it.
    void run_sweep(const rs::app::SweepSettings& settings);

  signals:
    void modelLoaded(const rs::gui::ModelSummary& s);
    // Loading `path` failed; the model loaded before stays in use when
    // still_loaded (else there is none).
    void modelLoadFailed(const QString& path, const QString& message, bool still_loaded);
    // probe_server's answer: connected when the server is now the engine.
    void serverProbed(const rs::gui::ServerSummary& s, bool connected);
    void serverFailed(const QString& message, bool connecting);
    void runStarted(const rs::RunRow& row);
    void runFinished(qint64 run_id, const QString& status, const QString& answer);
    void lensReady(const rs::LogitLens& lens, const QString& title);
    void answerEntropyReady(const rs::views::AnswerEntropyCurve& curve);
    void probeFailed(bool lens, const QString& message);  // lens: else the answer entropy
    void failed(const QString& message);
    void sweepProgress(const rs::app::SweepProgress& progress);
    void sweepPoint(const rs::app::SweepPoint& point);
    void sweepFinished(const rs::app::SweepResult& result);
    void sweepFailed(const QString& message, const rs::app::SweepResult& so_far);
    // The run store's writer is waiting out another process's lock on the
    // database (waiting), or is writing again (!waiting). Emitted from the
    // writer thread; message is the last failed write's (or why rows were lost).
    void databaseWaiting(bool waiting, const QString& message);

  private:
    // The local session of the run's model, or null with why not.
    Session* probe_session(const RunRow& run, QString& why_not);
    // The run store runs are recorded in, opened at the first run.
    RunStore& open_store();
    const app::PluginManager* plugins_;
    QString db_path_;
    std::unique_ptr<Model> model_;    // for a server: Model::load_vocab (prompts, tokenizer)
    std::unique_ptr<Generator> gen_;  // a LocalGenerator or a remote::RemoteGenerator
    std::unique_ptr<RunStore> store_;
    EventQueue events_;
    std::atomic<bool> cancel_{false}, pause_{false}, running_{false};
};

}  // namespace rs::gui

Q_DECLARE_METATYPE(rs::app::RunRequest)
Q_DECLARE_METATYPE(rs::app::SweepSettings)
Q_DECLARE_METATYPE(rs::app::SweepProgress)
Q_DECLARE_METATYPE(rs::app::SweepPoint)
Q_DECLARE_METATYPE(rs::app::SweepResult)
Q_DECLARE_METATYPE(rs::gui::ModelSummary)
Q_DECLARE_METATYPE(rs::gui::ServerSettings)
Q_DECLARE_METATYPE(rs::gui::ServerSummary)
Q_DECLARE_METATYPE(rs::RunRow)
Q_DECLARE_METATYPE(rs::LogitLens)
Q_DECLARE_METATYPE(rs::views::AnswerEntropyCurve)
