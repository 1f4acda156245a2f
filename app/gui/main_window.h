// The desktop workbench window: setup panel, live tree, node details,
// tokens, signals, runs browser, compare and the live monitor, as docks
// whose layout is saved between sessions.
#pragma once

#include <QMainWindow>
#include <QMap>
#include <QThread>
#include <optional>

#include "gui/db_worker.h"
#include "gui/engine_host.h"
#include "models/run_model.h"
#include "models/runs_table_model.h"

class QCheckBox;
class QComboBox;
class QDialog;
class QDoubleSpinBox;
class QFileSystemWatcher;
class QFormLayout;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableView;
class QTextBrowser;
class QProgressBar;
class QSortFilterProxyModel;
class QLineEdit;

namespace rs::views {
class TreeView;
class TokenView;
class SignalsView;
class ProbeView;
}  // namespace rs::views

namespace rs::gui {

class ExperimentWindow;

struct WindowOptions {
    QString model_path;  // empty: the bundled model
    QString db_path;     // empty: the default run store
    QString suite = "hard";
    int threads = 0;
    KvType kv = KvType::F32;     // the engine's default (F16 is llama.cpp's)
    bool deterministic = false;  // prompts batch-independent too (SessionOptions)
    QString backend = "auto";    // cpu, cuda or auto (SessionOptions::backend)
};

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(const WindowOptions& opt, QWidget* parent = nullptr);
    ~MainWindow() override;

    views::RunModel* run_model() { return &live_; }
    views::TreeView* tree_view() { return tree_; }
    views::TokenView* token_view() { return tokens_; }
    bool model_ready() const { return model_ready_; }
    bool running() const { return host_->running(); }
    QComboBox* strategy_box() { return strategy_; }
    void set_param(const QString& name, const QVariant& value);  // for tests and scripting
    // The request the Run button sends: the task (a suite's, or the prompt
    // box's text), the strategy's parameters, and the prompt options (chat
    // template, system message, thinking, thinking budget).
    app::RunRequest current_request() const;
    // Loads a JSONL task suite from a file into the suite picker; false (and
    // the error shown under the picker) when it cannot be read.
    bool open_suite_file(const QString& path);

  public slots:
    void start_run();
    void stop_run();
    void toggle_pause();
    void open_stored_run(qint64 id);
    // Counterfactual: continue the selected path from token `index` of
    // `node` with token `alternative` instead (a new greedy run, stored).
    // A counterfactual branch from token `index` of `node` with `alternative`
    // in its place: chain of thought, greedy, or with the run's sampling
    // temperature and seed. Stored linked to the run (schema 8) and, when it
    // ends, opened grafted onto the run's tree.
    void branch_from(int node, int index, int alternative, bool sample_like_run = false);
    void refresh_runs();
    // Writes run `id` as HTML, JSON, Markdown or CSV (by the path's suffix;
    // CSV: the tokens, and the nodes beside them as the CLI's `export`
    // writes them), on the run store's thread; exported(paths) follows.
    void export_run_to(qint64 id, const QString& path);
    // Opens the comparison of two stored runs; compareShown(dialog) follows.
    void compare_runs_by_id(qint64 a, qint64 b);
    // The Experiments window (sweeps; experiment_window.h), made at the
    // first call; a point's runs open in the runs browser and the views.
    ExperimentWindow* open_experiments();

  signals:
    void storedRunOpened(qint64 id);          // after open_stored_run's load reached the views
    void exported(const QStringList& paths);  // every file written
    void compareShown(QDialog* dialog);
    void strategiesReloaded();  // after a rescan of the script folders
    void requestLoadModel(const QString& path, int threads, bool kv_f16, bool deterministic,
                          const QString& backend);
    void requestRun(const rs::app::RunRequest& req);
    void requestProbe(const rs::gui::ServerSettings& settings, bool use);

  protected:
    void closeEvent(QCloseEvent* e) override;

  private:
    void choose_model();                   // file dialog, then load_model
    void load_model(const QString& path);  // on the engine thread; the UI waits for modelLoaded
    // The engine picker's server: probe it (Test connection) or make runs
    // use it (Connect), on the engine thread; the panel shows the answer.
    ServerSettings server_settings() const;
    void probe_server(bool use);
    void show_server_probe(const ServerSummary& s, bool connected);
    // Greys out the strategies and scorers the engine in use cannot serve
    // (their metadata's "needs" against caps_), with the reason as tooltip.
    void apply_caps();
    void build_setup_dock();
    // The Setup pane's budgets and engine settings (main_window_engine.cpp):
    // built under the seed; kept in step with the engine in use; put into
    // each run's request.
    void build_engine_settings(QFormLayout* form, QWidget* w);
    void mark_unavailable_backends();
    void update_engine_settings();
    void apply_run_settings(app::RunRequest& req) const;
    // Greys out the strategy parameters whose "applies_when" does not hold
    // for the others' values (and the scorer's options with its box).
    void update_param_applicability();
    // View toggles and layout reset, Help (user guide, shortcuts), toolbar
    // tooltips, the empty canvas's hint, the elapsed-time label
    // (main_window_help.cpp).
    void build_conveniences();
    // The run's task, strategy, parameters and seed into Setup, then Run.
    void rerun(const RunRow& run);
    void give_the_tree_room();  // the right-hand panes to a quarter of the width
    void show_user_guide();
    void show_shortcuts();
    void show_elapsed();
    void build_docks();
    void build_probes();  // the Probes dock beside the node pane, and its engine requests
    void build_menus();
    // The strategy box from the plugin manager: strategies, then scripts
    // that cannot be read (greyed out, the error as tooltip); keeps the
    // chosen strategy where it is still there (main_window_scripts.cpp).
    void fill_strategy_box();
    void watch_scripts();      // the script folders and files, for reload_strategies
    void reload_strategies();  // rescans the scripts (after the run in progress)
    void rebuild_param_form();
    // The chosen scorer's options under the scorer box (a file picker for
    // its model file), rebuilt when the scorer changes; values are kept per
    // scorer and option while the window lives.
    void rebuild_scorer_options();
    // Counterfactual branches run on the run's own model: same_model says
    // whether the engine in use is it (by fingerprint, else by path);
    // start_branch sends the request, refuse_branch says why not.
    bool same_model(const RunRow& run) const;
    void start_branch(const app::RunRequest& req, const QString& message);
    void refuse_branch(const QString& message);
    void show_run_setup(const RunRow& run);  // the strategy, parameters and seed of a run
    void load_suite(const QString& name);
    void choose_suite_file();  // file dialog, then open_suite_file
    void show_task_prompt_options(int task);
    void show_node(int id);
    void export_run();
    void compare_selected();
    void set_dark(bool dark);
    void drain_events();

    WindowOptions opt_;
    app::PluginManager plugins_;
    QThread engine_thread_;
    EngineHost* host_ = nullptr;
    std::unique_ptr<DbWorker> db_;  // every run-store read and edit of the window
    views::RunModel live_;
    views::RunsTableModel runs_model_;
    QSortFilterProxyModel* runs_proxy_ = nullptr;
    std::vector<Task> tasks_;
    bool model_ready_ = false;
    QString loaded_model_;  // the path of the model in use ("" while none is)
    QString loaded_hash_;   // its fingerprint (app::model_fingerprint)
    // A branch waiting for its run's model to load (modelLoaded starts it).
    struct PendingBranch {
        app::RunRequest req;
        QString message, model_path, model_hash, model_name;
        qint64 run_id = 0;
    };
    std::optional<PendingBranch> pending_branch_;
    bool branch_running_ = false;  // the run in progress is a counterfactual branch
    bool paused_ = false;

    views::TreeView* tree_ = nullptr;
    views::TokenView* tokens_ = nullptr;
    views::SignalsView* signals_ = nullptr;
    views::ProbeView* probes_ = nullptr;  // logit lens, answer entropy (main_window_probes.cpp)
    QTextBrowser* node_info_ = nullptr;
    QTableView* runs_table_ = nullptr;
    QLineEdit* model_edit_ = nullptr;
    QLabel* model_row_label_ = nullptr;  // "model", or "tokenizer" for a server
    // The engine picker: a local model, or an inference server.
    QComboBox* engine_ = nullptr;
    QWidget* server_box_ = nullptr;
    QLineEdit *server_url_ = nullptr, *server_model_ = nullptr;
    QLineEdit* api_key_ = nullptr;  // never stored
    QComboBox* server_kind_ = nullptr;
    QPushButton *test_btn_ = nullptr, *connect_btn_ = nullptr;
    QLabel* server_info_ = nullptr;  // what the probe found, or why it failed
    GeneratorCaps caps_;             // of the engine in use
    QString backend_;                // its backend_name()
    bool remote_ = false;            // the engine in use is a server
    QLabel* model_label_ = nullptr;
    QComboBox* suite_ = nullptr;
    QComboBox* task_ = nullptr;
    QPlainTextEdit* prompt_ = nullptr;
    QLabel* suite_error_ = nullptr;  // why the chosen suite could not be loaded
    QCheckBox* chat_ = nullptr;      // apply the model's chat template
    QCheckBox* thinking_ = nullptr;  // enable_thinking: partly checked = the template's default
    QLineEdit* system_ = nullptr;    // the system message
    QSpinBox *think_min_ = nullptr, *think_max_ = nullptr;  // thinking budget, 0 = none
    bool model_chat_template_ = false;
    QComboBox* strategy_ = nullptr;
    static constexpr int kBrokenScriptRole = Qt::UserRole + 7;  // a broken script's error
    QFileSystemWatcher* script_watch_ = nullptr;
    bool run_requested_ = false;  // from Run until runFinished or failed
    bool reload_pending_ = false;
    QFormLayout* params_form_ = nullptr;
    QWidget* params_box_ = nullptr;
    QSpinBox* seed_ = nullptr;
    QSpinBox *max_tokens_ = nullptr, *max_passes_ = nullptr, *threads_ = nullptr;
    QDoubleSpinBox* max_seconds_ = nullptr;
    QLineEdit* taps_ = nullptr;
    QComboBox *backend_box_ = nullptr, *kv_box_ = nullptr;
    QCheckBox* deterministic_ = nullptr;
    QPushButton* apply_engine_btn_ = nullptr;
    QLabel* engine_note_ = nullptr;
    QLabel* status_elapsed_ = nullptr;
    QByteArray default_layout_;
    // Runs with at least this many tokens open outline first (open_stored_run).
    static constexpr int64_t kOutlineFirstTokens =
        100000;  // the docks as built, for View > Reset layout
    QPushButton *run_btn_ = nullptr, *pause_btn_ = nullptr, *stop_btn_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QLabel *status_backend_ = nullptr, *status_speed_ = nullptr;
    QProgressBar* db_busy_ = nullptr;  // in the status bar while the run store works
    QLabel* db_waiting_ = nullptr;     // while the run's writer waits out a database lock
    std::vector<std::pair<std::string, QWidget*>> param_widgets_;
    struct ScorerField {
        std::string name;
        QString dflt;
        QWidget* edit;  // a QLineEdit or QComboBox
    };
    std::vector<ScorerField> scorer_fields_;
    std::vector<QWidget*> scorer_rows_;     // their rows' field widgets in params_form_
    QMap<QString, QString> scorer_values_;  // "scorer/option" -> value typed or chosen
    ExperimentWindow* experiments_ = nullptr;
};

}  // namespace rs::gui
