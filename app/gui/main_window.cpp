#include "gui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDialog>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTableView>
#include <QTextBrowser>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/counterfactual.h"
#include "core/export_run.h"
#include "core/resources.h"
#include "gui/duration_text.h"
#include "gui/experiment_window.h"
#include "imgui/live_monitor.h"
#include "reasonscope/run_export.h"
#include "widgets/compare_view.h"
#include "widgets/latent_view.h"
#include "widgets/signals_view.h"
#include "widgets/sort_arrows.h"
#include "widgets/step_signals_html.h"
#include "widgets/theme.h"
#include "widgets/token_view.h"
#include "widgets/tree_view.h"

namespace rs::gui {

MainWindow::MainWindow(const WindowOptions& opt, QWidget* parent) : QMainWindow(parent), opt_(opt) {
    setObjectName("mainWindow");
    setWindowTitle("Reasonscope");
    resize(1400, 900);
    qRegisterMetaType<rs::app::RunRequest>();
    qRegisterMetaType<rs::gui::ModelSummary>();
    qRegisterMetaType<rs::RunRow>();
    qRegisterMetaType<rs::gui::ServerSettings>();
    qRegisterMetaType<rs::gui::ServerSummary>();
    plugins_.scan();
    if (opt_.db_path.isEmpty()) opt_.db_path = QString::fromStdString(RunStore::default_path());
    if (opt_.model_path.isEmpty())
        opt_.model_path = QString::fromStdString(app::default_model_path());

    db_ = std::make_unique<DbWorker>(opt_.db_path.toStdString());
    host_ = new EngineHost(&plugins_, opt_.db_path);
    host_->moveToThread(&engine_thread_);
    connect(&engine_thread_, &QThread::finished, host_, &QObject::deleteLater);
    connect(this, &MainWindow::requestLoadModel, host_, &EngineHost::load_model);
    connect(this, &MainWindow::requestRun, host_, &EngineHost::start_run);
    connect(this, &MainWindow::requestProbe, host_, &EngineHost::probe_server);
    engine_thread_.start();

    tree_ = new views::TreeView(&live_, this);
    auto* central = new QWidget(this);
    auto* cl = new QVBoxLayout(central);
    cl->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QToolBar(central);
    bar->addAction("Fit", tree_, &views::TreeView::fit);
    auto* colour = new QComboBox(bar);
    colour->addItems({"colour by entropy", "colour by score"});
    connect(colour, &QComboBox::currentIndexChanged, this, [this](int i) {
        tree_->set_colour_by(i ? views::TreeView::ColourBy::Score
                               : views::TreeView::ColourBy::Entropy);
    });
    bar->addWidget(colour);
    QAction* group = bar->addAction("Group", tree_, &views::TreeView::set_grouping);
    group->setCheckable(true);
    group->setChecked(tree_->grouping());
    group->setToolTip("Draw identical sibling steps as one node (×k); key G");
    connect(tree_, &views::TreeView::groupingChanged, group, &QAction::setChecked);
    QAction* legend = bar->addAction("Legend", tree_, &views::TreeView::set_legend_visible);
    legend->setCheckable(true);
    legend->setChecked(true);
    auto* find = new QLineEdit(bar);
    find->setPlaceholderText("find in steps (Enter)");
    find->setMaximumWidth(220);
    connect(find, &QLineEdit::returnPressed, this,
            [this, find] { tree_->find_text(find->text()); });
    bar->addWidget(find);
    cl->addWidget(bar);
    cl->addWidget(tree_);
    setCentralWidget(central);

    build_setup_dock();
    build_docks();
    build_menus();
    build_conveniences();
    watch_scripts();

    status_backend_ = new QLabel("loading model…", this);
    status_backend_->setObjectName("backendStatus");
    status_speed_ = new QLabel(this);
    statusBar()->addWidget(status_backend_, 1);
    statusBar()->addPermanentWidget(status_speed_);
    db_busy_ = new QProgressBar(this);
    db_busy_->setObjectName("dbBusy");
    db_busy_->setRange(0, 0);  // indeterminate: the run store is working
    db_busy_->setMaximumWidth(90);
    db_busy_->setToolTip("reading or writing the run store");
    db_busy_->hide();
    statusBar()->addPermanentWidget(db_busy_);
    connect(db_.get(), &DbWorker::busyChanged, db_busy_, &QWidget::setVisible);
    db_waiting_ = new QLabel("waiting for the database…", this);
    db_waiting_->setObjectName("dbWaiting");
    db_waiting_->setStyleSheet("color: #b35c00; font-weight: bold");
    db_waiting_->hide();
    statusBar()->addPermanentWidget(db_waiting_);
    // The run goes on meanwhile: its rows wait in memory (docs/reliability.md).
    connect(host_, &EngineHost::databaseWaiting, this,
            [this](bool waiting, const QString& message) {
                db_waiting_->setVisible(waiting);
                db_waiting_->setToolTip(
                    waiting ? "Another process holds the run store's lock; the run goes on and "
                              "its rows are written once the lock is released.\n" +
                                  message
                            : QString());
                if (!waiting)
                    statusBar()->showMessage(message.isEmpty()
                                                 ? "the database is free again, nothing lost"
                                                 : "run store: " + message,
                                             8000);
            });

    connect(host_, &EngineHost::modelLoaded, this, [this](const ModelSummary& s) {
        model_ready_ = true;
        if (s.remote) {  // the file gives the tokenizer and chat template only
            model_label_->setText(
                QString("%1 on the server — tokenizer and chat template from %2 (%3, %4 tokens)")
                    .arg(s.name, QFileInfo(s.path).fileName(), s.arch)
                    .arg(s.n_vocab));
            status_backend_->setText(QString("%1 (%2)").arg(s.backend, s.backend_reason));
        } else {
            model_label_->setText(
                QString("%1 — %2, %3 layers, dim %4, %5 tokens, ctx %6, %7M params")
                    .arg(s.name, s.arch)
                    .arg(s.layers)
                    .arg(s.dim)
                    .arg(s.n_vocab)
                    .arg(s.ctx)
                    .arg(s.params_m, 0, 'f', 2));
            // The CPU because there is no usable GPU says so in two words;
            // the whole reason (what the CUDA probe found) is the tooltip.
            const bool no_gpu =
                s.backend.startsWith("cpu") && s.backend_reason.contains("no CUDA device");
            const QString engine = no_gpu ? QString("CPU (no CUDA device), %1").arg(s.backend)
                                          : QString("%1 (%2)").arg(s.backend, s.backend_reason);
            status_backend_->setText(
                QString("%1 | KV %2%3 | %4")
                    .arg(engine, s.kv, s.deterministic ? ", deterministic" : "", s.name));
            status_backend_->setToolTip(s.backend_reason);
            mark_unavailable_backends();
        }
        caps_ = s.caps;
        backend_ = s.backend;
        remote_ = s.remote;
        apply_caps();
        loaded_model_ = s.path;
        loaded_hash_ = s.hash;
        update_engine_settings();
        run_btn_->setEnabled(!host_->running());
        progress_->setRange(0, 1);
        model_chat_template_ = s.chat_template;
        chat_->setEnabled(s.chat_template);
        chat_->setToolTip(s.chat_template
                              ? "Render the prompt with the model's chat template "
                                "(tokenizer.chat_template)"
                              : "This model has no chat template (tokenizer.chat_template)");
        if (pending_branch_) {  // loaded for a counterfactual branch: is it the run's model?
            const PendingBranch b = std::move(*pending_branch_);
            pending_branch_.reset();
            if (s.remote || s.path != b.model_path)
                refuse_branch(QString("The counterfactual branch from run %1 was not started: "
                                      "another model was chosen before its model %2 loaded.")
                                  .arg(b.run_id)
                                  .arg(b.model_name));
            else if (!b.model_hash.isEmpty() && s.hash != b.model_hash)
                refuse_branch(
                    QString("The counterfactual branch from run %1 was not started: %2 is not the "
                            "model the run was made with (its fingerprint is %3, the run's %4). "
                            "It is loaded now; open the run's own file to branch from it.")
                        .arg(b.run_id)
                        .arg(b.model_path, s.hash, b.model_hash));
            else
                start_branch(b.req, b.message + QString(" (on run %1's model %2, loaded for it)")
                                                    .arg(b.run_id)
                                                    .arg(b.model_name));
        }
        if (s.remote) return;
        QSettings settings;  // most recent first, at most eight
        QStringList recent = settings.value("recentModels").toStringList();
        recent.removeAll(s.path);
        recent.prepend(s.path);
        while (recent.size() > 8) recent.removeLast();
        settings.setValue("recentModels", recent);
    });
    connect(host_, &EngineHost::failed, this, [this](const QString& m) {
        run_requested_ = false;
        if (reload_pending_) QTimer::singleShot(0, this, &MainWindow::reload_strategies);
        progress_->setRange(0, 1);
        statusBar()->showMessage(m, 15000);
        QMessageBox::warning(this, "Reasonscope", m);
    });
    // A failed load keeps the model loaded before, if any, usable; the
    // status bar and the model field say what is loaded.
    connect(host_, &EngineHost::modelLoadFailed, this,
            [this](const QString& path, const QString& m, bool still_loaded) {
                progress_->setRange(0, 1);
                model_ready_ = still_loaded;
                run_btn_->setEnabled(still_loaded && !host_->running());
                QString message = QString("could not load %1: %2").arg(path, m);
                if (pending_branch_) {
                    message += QString(
                                   "; the counterfactual branch from run %1 (which needs "
                                   "that model) was not started")
                                   .arg(pending_branch_->run_id);
                    pending_branch_.reset();
                }
                if (still_loaded) {
                    model_edit_->setText(loaded_model_);
                    message += "; still using " + loaded_model_;
                } else {
                    loaded_model_.clear();
                    status_backend_->setText("no model loaded");
                    model_label_->setText("no model loaded");
                }
                statusBar()->showMessage(message, 15000);
                QMessageBox::warning(this, "Reasonscope", message);
            });
    connect(host_, &EngineHost::serverProbed, this, &MainWindow::show_server_probe);
    connect(host_, &EngineHost::serverFailed, this, [this](const QString& m, bool connecting) {
        test_btn_->setEnabled(true);
        connect_btn_->setEnabled(true);
        server_info_->setStyleSheet("color: #b00020");
        server_info_->setText((connecting ? "Could not connect: " : "Test failed: ") +
                              m.toHtmlEscaped());
        if (!connecting) return;
        // The engine in use before stays in use.
        progress_->setRange(0, 1);
        model_ready_ = !loaded_model_.isEmpty();
        run_btn_->setEnabled(model_ready_ && !host_->running());
        statusBar()->showMessage("could not connect to the server: " + m +
                                     (model_ready_ ? "; still using " + backend_ : QString()),
                                 15000);
    });
    connect(host_, &EngineHost::runStarted, this, [this](const RunRow& row) {
        live_.set_info(row);
        update_engine_settings();
        runs_model_.upsert(row);  // listed as "running" now; the refresh at its end updates it
    });
    connect(host_, &EngineHost::runFinished, this,
            [this](qint64 id, const QString& status, const QString& answer) {
                run_requested_ = false;
                if (reload_pending_) QTimer::singleShot(0, this, &MainWindow::reload_strategies);
                drain_events();
                run_btn_->setEnabled(true);
                pause_btn_->setEnabled(false);
                stop_btn_->setEnabled(false);
                paused_ = false;  // a run stopped while paused: the next starts unpaused
                pause_btn_->setText("Pause");
                progress_->setRange(0, 1);
                progress_->setValue(1);
                update_engine_settings();
                // The status, the answer and whether it is right, the time.
                const RunRow& info = live_.info();
                QString said = "run " + status;
                if (!answer.isEmpty())
                    said += ", answer " + answer +
                            (info.correct == 1   ? " (correct)"
                             : info.correct == 0 ? " (wrong)"
                                                 : QString());
                if (!live_.metrics().empty())
                    said += ", " + duration_text(live_.metrics().back().wall_seconds) + ", " +
                            QString::number(live_.metrics().back().tokens_generated) + " tokens";
                if (status_elapsed_) status_elapsed_->clear();
                statusBar()->showMessage(said, 10000);
                refresh_runs();
                // A finished counterfactual branch is shown where it departs.
                if (std::exchange(branch_running_, false) && id > 0) open_stored_run(id);
            });
    connect(&live_, &views::RunModel::selectionChanged, this, &MainWindow::show_node);
    connect(tokens_, &views::TokenView::branchRequested, this, &MainWindow::branch_from);
    // A token clicked on the signals plot: its step is selected (the token
    // pane rebuilds), then the token is scrolled to and marked there.
    connect(signals_, &views::SignalsView::tokenPicked, tokens_, &views::TokenView::show_token);

    auto* timer = new QTimer(this);  // <= 30 Hz coalesced UI updates
    connect(timer, &QTimer::timeout, this, &MainWindow::drain_events);
    timer->start(33);

    QSettings settings;
    restoreGeometry(settings.value("geometry").toByteArray());
    restoreState(settings.value("windowState").toByteArray());
    set_dark(settings.value("dark", false).toBool());
    refresh_runs();
    load_model(opt_.model_path);
}

void MainWindow::choose_model() {
    QString f =
        QFileDialog::getOpenFileName(this, "Open GGUF model", QString(), "GGUF models (*.gguf)");
    if (f.isEmpty()) return;
    if (engine_->currentIndex() == 1)  // the server's tokenizer: used on Connect
        model_edit_->setText(f);
    else
        load_model(f);
}

ServerSettings MainWindow::server_settings() const {
    ServerSettings s;
    s.url = server_url_->text().trimmed();
    s.kind = server_kind_->currentData().toString();
    s.model = server_model_->text().trimmed();
    s.api_key = api_key_->text();
    s.gguf = model_edit_->text().trimmed();
    return s;
}

void MainWindow::probe_server(bool use) {
    const ServerSettings s = server_settings();
    QSettings settings;  // the last server (the API key is never stored)
    settings.setValue("serverUrl", s.url);
    settings.setValue("serverKind", s.kind);
    settings.setValue("serverModel", s.model);
    test_btn_->setEnabled(false);
    connect_btn_->setEnabled(false);
    server_info_->setStyleSheet(QString());
    server_info_->setText(QString(use ? "Connecting to %1…" : "Testing %1…")
                              .arg(s.url.isEmpty() ? "(no URL)" : s.url.toHtmlEscaped()));
    if (use) {  // the engine in use stays until the server answers
        model_ready_ = false;
        run_btn_->setEnabled(false);
        progress_->setRange(0, 0);
    }
    emit requestProbe(s, use);
}

void MainWindow::show_server_probe(const ServerSummary& s, bool connected) {
    test_btn_->setEnabled(true);
    connect_btn_->setEnabled(true);
    server_info_->setStyleSheet(QString());
    const auto row = [](const QString& what, const QString& value) {
        return QString("<tr><td style=\"padding-right:8px\">%1</td><td>%2</td></tr>")
            .arg(what, value);
    };
    const bool matches = s.tokenizer_check == "matches";
    QString html = connected ? "<b style=\"color:#1b7a1b\">Connected</b>: runs go to this server"
                             : "<b>Server found</b> (Connect to run searches on it)";
    html += "<table>";
    html += row("model", "<b>" + s.model.toHtmlEscaped() + "</b>");
    html +=
        row("server",
            s.kind + (s.version.isEmpty() ? QString() : ", version " + s.version.toHtmlEscaped()));
    html += row("context", s.n_ctx ? QString("%1 tokens").arg(s.n_ctx) : QString("unknown"));
    html += row("top-k", QString("%1 log-probabilities per token").arg(s.top_k));
    html += row("tokenizer",
                QString("<span style=\"color:%1\">%2</span>")
                    .arg(matches ? "#1b7a1b" : "#b35c00", s.tokenizer_check.toHtmlEscaped()));
    html += row("text scoring",
                s.can_score ? "available (prm scorer)" : "<i>not available</i> (no prm scorer)");
    html += row("entropy", QString("approximate, from the top %1").arg(s.top_k));
    html += row("hidden states", "<i>unavailable</i> (latent scorer, map)");
    html += "</table>";
    server_info_->setText(html);
}

void MainWindow::apply_caps() {
    const auto reason = [this](const std::vector<std::string>& needs) {
        const std::string m = missing_capabilities(needs, caps_);
        return m.empty() ? QString()
                         : QString("Needs %1, which %2 does not give: use a local model")
                               .arg(QString::fromStdString(m), backend_);
    };
    // Items of a combo box: greyed out, with the reason as tooltip.
    const auto set_item = [](QComboBox* box, int i, const QString& why, const QString& tip) {
        auto* m = qobject_cast<QStandardItemModel*>(box->model());
        if (!m || !m->item(i)) return;
        m->item(i)->setEnabled(why.isEmpty());
        m->item(i)->setToolTip(why.isEmpty() ? tip : why);
    };
    const auto first_enabled = [](QComboBox* box) {
        auto* m = qobject_cast<QStandardItemModel*>(box->model());
        for (int i = 0; m && i < box->count(); ++i)
            if (m->item(i)->isEnabled()) return i;
        return -1;
    };
    for (int i = 0; i < strategy_->count(); ++i) {
        const QString broken = strategy_->itemData(i, kBrokenScriptRole).toString();
        if (!broken.isEmpty()) {
            set_item(strategy_, i, broken, {});
            continue;
        }
        const auto* e = plugins_.find(strategy_->itemData(i).toString().toStdString());
        set_item(strategy_, i, e ? reason(e->info.needs) : QString(),
                 e ? QString::fromStdString(e->info.description) : QString());
    }
    for (auto& [name, wdg] : param_widgets_) {
        auto* box = qobject_cast<QComboBox*>(wdg);
        if (!box || !box->property("scorerBox").toBool()) continue;
        for (int i = 0; i < box->count(); ++i) {
            const ScorerInfo* sc = find_scorer(box->itemText(i).toStdString());
            set_item(box, i, sc ? reason(sc->needs) : QString(),
                     sc ? QString::fromStdString(sc->name + ": " + sc->description) : QString());
        }
        auto* m = qobject_cast<QStandardItemModel*>(box->model());
        if (m && m->item(box->currentIndex()) && !m->item(box->currentIndex())->isEnabled())
            box->setCurrentIndex(first_enabled(box));  // what runs here
    }
    auto* m = qobject_cast<QStandardItemModel*>(strategy_->model());
    if (m && m->item(strategy_->currentIndex()) && !m->item(strategy_->currentIndex())->isEnabled())
        strategy_->setCurrentIndex(first_enabled(strategy_));
}

void MainWindow::load_model(const QString& path) {
    model_edit_->setText(path);
    if (engine_->currentIndex() != 0) {  // a model loaded from the menu: the local engine
        const QSignalBlocker block(engine_);
        engine_->setCurrentIndex(0);
        server_box_->hide();
        model_row_label_->setText("model");
    }
    model_ready_ = false;
    run_btn_->setEnabled(false);
    progress_->setRange(0, 0);
    emit requestLoadModel(path, opt_.threads, opt_.kv == KvType::F16, opt_.deterministic,
                          opt_.backend);
}

MainWindow::~MainWindow() {
    host_->cancel();
    engine_thread_.quit();
    engine_thread_.wait();
    db_.reset();
}

void MainWindow::closeEvent(QCloseEvent* e) {
    QSettings s;
    s.setValue("geometry", saveGeometry());
    s.setValue("windowState", saveState());
    host_->cancel();
    QMainWindow::closeEvent(e);
}

void MainWindow::drain_events() {
    auto ev = host_->events().drain();
    if (ev.empty()) return;
    live_.apply(ev);
    if (!live_.metrics().empty()) {
        const RunMetrics& m = live_.metrics().back();
        status_speed_->setText(QString("%1 tok/s | %2 passes | %3 branches | KV %4 MB")
                                   .arg(m.tokens_per_second, 0, 'f', 0)
                                   .arg(m.forward_passes)
                                   .arg(m.branches_alive)
                                   .arg(m.kv_bytes / 1e6, 0, 'f', 1));
    }
    show_elapsed();
    if (live_.selected() < 0 && live_.tree().size() > 0)
        live_.select(live_.tree().size() - 1);
    else if (live_.live() && !live_.finished() && live_.tree().size() > 0)
        live_.select(live_.tree().size() - 1);
}

void MainWindow::build_setup_dock() {
    auto* w = new QWidget(this);
    auto* form = new QFormLayout(w);
    // The engine: a model in this process, or an inference server (whose
    // model's tokenizer and chat template come from the model box's GGUF).
    engine_ = new QComboBox(w);
    engine_->setObjectName("engineBox");
    engine_->addItems({"Local model", "Server"});
    engine_->setToolTip(
        "Local model: the engine in this process. Server: vLLM, SGLang, llama-server or "
        "reasonscope serve; the model box then gives the GGUF whose tokenizer and chat "
        "template the server's model uses.");
    form->addRow("engine", engine_);
    server_box_ = new QWidget(w);
    server_box_->setObjectName("serverBox");
    auto* sform = new QFormLayout(server_box_);
    sform->setContentsMargins(12, 0, 0, 0);
    const QSettings settings;  // the last server used (never the API key)
    server_url_ = new QLineEdit(settings.value("serverUrl").toString(), server_box_);
    server_url_->setObjectName("serverUrl");
    server_url_->setPlaceholderText("http://127.0.0.1:8080");
    sform->addRow("URL", server_url_);
    server_kind_ = new QComboBox(server_box_);
    server_kind_->setObjectName("serverKind");
    server_kind_->addItem("openai (reasonscope serve)", "openai");
    server_kind_->addItem("vllm", "vllm");
    server_kind_->addItem("sglang", "sglang");
    server_kind_->addItem("llama-server", "llama-server");
    server_kind_->setCurrentIndex(
        std::max(0, server_kind_->findData(settings.value("serverKind", "openai").toString())));
    sform->addRow("kind", server_kind_);
    server_model_ = new QLineEdit(settings.value("serverModel").toString(), server_box_);
    server_model_->setObjectName("serverModel");
    server_model_->setPlaceholderText("the server's model id (optional: its first)");
    sform->addRow("model id", server_model_);
    api_key_ = new QLineEdit(server_box_);
    api_key_->setObjectName("apiKey");
    api_key_->setEchoMode(QLineEdit::Password);
    api_key_->setPlaceholderText("optional; never stored");
    api_key_->setToolTip("Sent as a bearer token; kept in memory only, never saved");
    sform->addRow("API key", api_key_);
    test_btn_ = new QPushButton("Test connection", server_box_);
    test_btn_->setObjectName("testConnection");
    connect_btn_ = new QPushButton("Connect", server_box_);
    connect_btn_->setObjectName("connectServer");
    connect_btn_->setToolTip("Runs go to this server until another model or server is chosen");
    auto* sbtns = new QHBoxLayout();
    sbtns->addWidget(test_btn_);
    sbtns->addWidget(connect_btn_);
    sbtns->addStretch(1);
    sform->addRow(sbtns);
    server_info_ = new QLabel(server_box_);
    server_info_->setObjectName("serverInfo");
    server_info_->setWordWrap(true);
    server_info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    server_info_->setFrameShape(QFrame::StyledPanel);
    server_info_->setMargin(4);
    server_info_->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Minimum);
    server_info_->setText("Not tested yet.");
    sform->addRow(server_info_);
    form->addRow(server_box_);
    server_box_->hide();
    connect(test_btn_, &QPushButton::clicked, this, [this] { probe_server(false); });
    connect(connect_btn_, &QPushButton::clicked, this, [this] { probe_server(true); });

    model_edit_ = new QLineEdit(opt_.model_path, w);
    auto* browse = new QPushButton("…", w);
    browse->setMaximumWidth(30);
    auto* mrow = new QHBoxLayout();
    mrow->addWidget(model_edit_);
    mrow->addWidget(browse);
    model_row_label_ = new QLabel("model", w);
    form->addRow(model_row_label_, mrow);
    model_label_ = new QLabel(w);
    model_label_->setWordWrap(true);
    form->addRow(model_label_);
    connect(browse, &QPushButton::clicked, this, &MainWindow::choose_model);
    model_edit_->setObjectName("modelPath");
    connect(model_edit_, &QLineEdit::returnPressed, this, [this] {  // a path typed or pasted
        if (engine_->currentIndex() == 1)
            probe_server(true);
        else
            load_model(model_edit_->text().trimmed());
    });
    connect(engine_, &QComboBox::currentIndexChanged, this, [this](int i) {
        server_box_->setVisible(i == 1);
        model_row_label_->setText(i == 1 ? "tokenizer" : "model");
        model_row_label_->setToolTip(
            i == 1 ? "The GGUF of the server's model: its tokenizer and chat template are "
                     "read (no weights)"
                   : QString());
        // Back to the local engine from a server: load the model box's file.
        if (i == 0 && remote_) load_model(model_edit_->text().trimmed());
    });
    suite_ = new QComboBox(w);
    suite_->setObjectName("suiteBox");
    suite_->addItems({"easy", "medium", "hard"});
    auto* open_suite = new QPushButton("…", w);
    open_suite->setObjectName("openSuiteButton");
    open_suite->setToolTip("Open suite file… (JSONL: one task per line)");
    open_suite->setMaximumWidth(30);
    auto* srow = new QHBoxLayout();
    srow->addWidget(suite_, 1);
    srow->addWidget(open_suite);
    suite_error_ = new QLabel(w);
    suite_error_->setObjectName("suiteError");
    suite_error_->setWordWrap(true);
    suite_error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    suite_error_->setStyleSheet("color: #b00020");
    suite_error_->hide();
    task_ = new QComboBox(w);
    task_->setObjectName("taskBox");
    prompt_ = new QPlainTextEdit(w);
    prompt_->setObjectName("promptEdit");
    prompt_->setMaximumHeight(70);
    form->addRow("suite", srow);
    form->addRow(suite_error_);
    form->addRow("task", task_);
    form->addRow("prompt", prompt_);
    connect(suite_, &QComboBox::currentIndexChanged, this,
            [this] { load_suite(suite_->currentText()); });
    connect(open_suite, &QPushButton::clicked, this, &MainWindow::choose_suite_file);
    connect(task_, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0 && i < static_cast<int>(tasks_.size()))
            prompt_->setPlainText(QString::fromStdString(tasks_[static_cast<size_t>(i)].prompt));
        show_task_prompt_options(i);
    });
    // Chat mode: the model's chat template with a system message and
    // enable_thinking, and the thinking budget. A suite task's own settings
    // fill them when it is chosen; a run sends only what was changed.
    chat_ = new QCheckBox("Chat template", w);
    chat_->setObjectName("chatTemplateBox");
    chat_->setEnabled(false);  // until a model with tokenizer.chat_template is loaded
    thinking_ = new QCheckBox("Thinking", w);
    thinking_->setObjectName("thinkingBox");
    thinking_->setTristate(true);
    thinking_->setCheckState(Qt::PartiallyChecked);
    thinking_->setToolTip(
        "enable_thinking, for chat templates that take it (partly checked: the template's "
        "default)");
    auto* crow = new QHBoxLayout();
    crow->addWidget(chat_);
    crow->addWidget(thinking_);
    crow->addStretch(1);
    form->addRow("chat", crow);
    system_ = new QLineEdit(w);
    system_->setObjectName("systemEdit");
    system_->setPlaceholderText("system message (optional)");
    form->addRow("system", system_);
    auto budget_box = [w](const char* name, const char* prefix, const char* tip) {
        auto* b = new QSpinBox(w);
        b->setObjectName(name);
        b->setRange(0, 1000000);
        b->setPrefix(prefix);
        b->setSpecialValueText(QString(prefix) + "none");
        b->setToolTip(tip);
        return b;
    };
    think_min_ = budget_box("thinkMinBox", "min ",
                            "Thinking tokens before the model may stop thinking: an early end of "
                            "thinking is replaced by \"Wait\" (0: none)");
    think_max_ =
        budget_box("thinkMaxBox", "max ",
                   "Thinking tokens at most: then the end of thinking is forced (0: none)");
    auto* trow = new QHBoxLayout();
    trow->addWidget(think_min_);
    trow->addWidget(think_max_);
    form->addRow("thinking budget", trow);
    auto chat_changed = [this] {
        system_->setEnabled(chat_->isChecked());
        thinking_->setEnabled(chat_->isChecked());
    };
    connect(chat_, &QCheckBox::toggled, this, chat_changed);
    chat_changed();
    strategy_ = new QComboBox(w);
    strategy_->setObjectName("strategyBox");
    form->addRow("strategy", strategy_);
    params_box_ = new QWidget(w);
    params_form_ = new QFormLayout(params_box_);
    params_form_->setContentsMargins(12, 0, 0, 0);
    form->addRow(params_box_);
    fill_strategy_box();
    connect(strategy_, &QComboBox::currentIndexChanged, this, &MainWindow::rebuild_param_form);
    seed_ = new QSpinBox(w);
    seed_->setRange(0, 1 << 30);
    seed_->setValue(42);
    form->addRow("seed", seed_);
    run_btn_ = new QPushButton("Run", w);
    run_btn_->setObjectName("runButton");
    pause_btn_ = new QPushButton("Pause", w);
    stop_btn_ = new QPushButton("Stop", w);
    run_btn_->setEnabled(false);
    pause_btn_->setEnabled(false);
    stop_btn_->setEnabled(false);
    auto* brow = new QHBoxLayout();
    brow->addWidget(run_btn_);
    brow->addWidget(pause_btn_);
    brow->addWidget(stop_btn_);
    form->addRow(brow);
    progress_ = new QProgressBar(w);
    progress_->setMaximumHeight(8);
    progress_->setTextVisible(false);
    form->addRow(progress_);
    build_engine_settings(form, w);
    connect(run_btn_, &QPushButton::clicked, this, &MainWindow::start_run);
    connect(pause_btn_, &QPushButton::clicked, this, &MainWindow::toggle_pause);
    connect(stop_btn_, &QPushButton::clicked, this, &MainWindow::stop_run);

    auto* dock = new QDockWidget("Setup", this);
    dock->setObjectName("setupDock");
    // Scrolled, so that the server panel or a long parameter list never
    // squeezes the rows on a short screen.
    auto* scroll = new QScrollArea(dock);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    auto* packed = new QWidget(scroll);  // the rows at the top, the space below
    auto* pl = new QVBoxLayout(packed);
    pl->setContentsMargins(0, 0, 0, 0);
    pl->addWidget(w);
    pl->addStretch(1);
    scroll->setWidget(packed);
    dock->setWidget(scroll);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
    int idx = strategy_->findData("self-consistency");
    strategy_->setCurrentIndex(idx >= 0 ? idx : 0);
    rebuild_param_form();
    suite_->setCurrentText(opt_.suite);
    load_suite(suite_->currentText());
}

void MainWindow::load_suite(const QString& name) {
    tasks_.clear();
    task_->clear();
    suite_error_->hide();
    const QString file = suite_->currentData().toString();  // a suite opened from a file
    try {
        tasks_ = rs::load_suite(file.isEmpty() ? app::resolve_suite_path(name.toStdString())
                                               : file.toStdString());
    } catch (const std::exception& e) {
        suite_error_->setText(QString::fromStdString(e.what()));
        suite_error_->show();
        statusBar()->showMessage(e.what(), 10000);
    }
    for (const auto& t : tasks_) task_->addItem(QString::fromStdString(t.id));
}

void MainWindow::choose_suite_file() {
    const QString f = QFileDialog::getOpenFileName(this, "Open task suite", QString(),
                                                   "Task suites (*.jsonl);;All files (*)");
    if (!f.isEmpty()) open_suite_file(f);
}

bool MainWindow::open_suite_file(const QString& path) {
    std::vector<Task> tasks;
    QString error;
    try {
        tasks = rs::load_suite(path.toStdString());
        if (tasks.empty()) error = path + ": the file holds no tasks";
    } catch (const std::exception& e) {
        error = QString::fromStdString(e.what());
    }
    if (!error.isEmpty()) {  // the suite chosen before stays
        suite_error_->setText("Could not open the suite: " + error);
        suite_error_->show();
        statusBar()->showMessage("could not open the suite: " + error, 15000);
        return false;
    }
    int idx = suite_->findData(path);
    if (idx < 0) {
        suite_->addItem(QFileInfo(path).fileName(), path);
        idx = suite_->count() - 1;
        suite_->setItemData(idx, path, Qt::ToolTipRole);
    }
    {
        const QSignalBlocker block(suite_);
        suite_->setCurrentIndex(idx);
    }
    suite_error_->hide();
    tasks_ = std::move(tasks);
    task_->clear();
    for (const auto& t : tasks_) task_->addItem(QString::fromStdString(t.id));
    statusBar()->showMessage(QString("%1 tasks from %2").arg(tasks_.size()).arg(path), 8000);
    return true;
}

void MainWindow::show_task_prompt_options(int i) {
    if (i < 0 || i >= static_cast<int>(tasks_.size())) return;
    const Task& t = tasks_[static_cast<size_t>(i)];
    chat_->setChecked(t.chat == 1);
    system_->setText(QString::fromStdString(t.system));
}

void MainWindow::rebuild_param_form() {
    while (params_form_->rowCount()) params_form_->removeRow(0);
    param_widgets_.clear();
    scorer_fields_.clear();
    scorer_rows_.clear();
    const auto* e = plugins_.find(strategy_->currentData().toString().toStdString());
    if (!e) return;
    strategy_->setToolTip(QString::fromStdString(e->info.description + "\n" + e->info.paper));
    for (const ParamSpec& p : e->info.params) {
        QWidget* wdg = nullptr;
        if (p.type == "int") {
            auto* s = new QSpinBox(params_box_);
            s->setRange(p.min.is_null() ? -1000000 : p.min.get<int>(),
                        p.max.is_null() ? 1000000 : p.max.get<int>());
            s->setValue(p.dflt.get<int>());
            wdg = s;
        } else if (p.type == "float") {
            auto* s = new QDoubleSpinBox(params_box_);
            s->setDecimals(3);
            s->setSingleStep(0.05);
            s->setRange(p.min.is_null() ? -1e9 : p.min.get<double>(),
                        p.max.is_null() ? 1e9 : p.max.get<double>());
            s->setValue(p.dflt.get<double>());
            wdg = s;
        } else if (p.type == "bool") {
            auto* c = new QCheckBox(params_box_);
            c->setChecked(p.dflt.get<bool>());
            wdg = c;
        } else if (p.type == "choice") {
            auto* c = new QComboBox(params_box_);
            for (const auto& ch : p.choices) c->addItem(QString::fromStdString(ch));
            c->setCurrentText(QString::fromStdString(p.dflt.get<std::string>()));
            wdg = c;
        } else if (p.type == "scorer") {  // every registered scorer, plugins included
            auto* c = new QComboBox(params_box_);
            for (const auto& sc : scorers()) {
                c->addItem(QString::fromStdString(sc.id));
                c->setItemData(c->count() - 1,
                               QString::fromStdString(sc.name + ": " + sc.description),
                               Qt::ToolTipRole);
            }
            c->setCurrentText(QString::fromStdString(p.dflt.get<std::string>()));
            c->setProperty("scorerBox", true);  // apply_caps greys out what cannot run
            connect(c, &QComboBox::currentIndexChanged, this, &MainWindow::rebuild_scorer_options);
            wdg = c;
        } else {
            wdg = new QLineEdit(QString::fromStdString(p.dflt.get<std::string>()), params_box_);
        }
        wdg->setObjectName(QString::fromStdString("param_" + p.name));
        // The help, the range and the default, as the metadata gives them.
        QString tip = QString::fromStdString(p.help);
        if (!p.min.is_null() || !p.max.is_null())
            tip +=
                QString("\nrange %1 to %2")
                    .arg(p.min.is_null() ? QString("-inf") : QString::fromStdString(p.min.dump()),
                         p.max.is_null() ? QString("inf") : QString::fromStdString(p.max.dump()));
        if (!p.dflt.is_null())
            tip +=
                "\ndefault " + QString::fromStdString(p.dflt.is_string() ? p.dflt.get<std::string>()
                                                                         : p.dflt.dump());
        wdg->setToolTip(tip);
        params_form_->addRow(QString::fromStdString(p.name), wdg);
        param_widgets_.push_back({p.name, wdg});
    }
    apply_caps();
    rebuild_scorer_options();
    // Parameters that apply only with some values of others follow them.
    for (auto& [name, wdg] : param_widgets_) {
        if (auto* c = qobject_cast<QComboBox*>(wdg))
            connect(c, &QComboBox::currentIndexChanged, this,
                    &MainWindow::update_param_applicability);
        else if (auto* b = qobject_cast<QCheckBox*>(wdg))
            connect(b, &QCheckBox::toggled, this, &MainWindow::update_param_applicability);
    }
    update_param_applicability();
}

void MainWindow::rebuild_scorer_options() {
    for (QWidget* row : scorer_rows_) params_form_->removeRow(row);
    scorer_rows_.clear();
    scorer_fields_.clear();
    QComboBox* box = nullptr;
    for (auto& [name, wdg] : param_widgets_)
        if (auto* c = qobject_cast<QComboBox*>(wdg); c && c->property("scorerBox").toBool())
            box = c;
    const ScorerInfo* sc = box ? find_scorer(box->currentText().toStdString()) : nullptr;
    if (!sc) return;
    int row = -1;
    QFormLayout::ItemRole role;
    params_form_->getWidgetPosition(box, &row, &role);
    for (const ParamSpec& o : sc->options) {
        const QString key = QString::fromStdString(sc->id + "/" + o.name);
        const QString dflt = QString::fromStdString(o.dflt.is_string() ? o.dflt.get<std::string>()
                                                    : o.dflt.is_null() ? ""
                                                                       : o.dflt.dump());
        const QString value = scorer_values_.value(key, dflt);
        const QString object = QString::fromStdString("scorer_" + o.name);
        // A model file: a path field with a file picker (prm-model's second GGUF).
        const bool file = o.name == "model" || o.help.find("GGUF") != std::string::npos;
        QWidget* field = nullptr;
        QWidget* edit = nullptr;
        if (o.type == "choice") {
            auto* c = new QComboBox(params_box_);
            for (const auto& ch : o.choices) c->addItem(QString::fromStdString(ch));
            c->setCurrentText(value);
            connect(c, &QComboBox::currentTextChanged, this,
                    [this, key](const QString& v) { scorer_values_[key] = v; });
            field = edit = c;
        } else {
            // A file: the line and its picker button in one row widget.
            QWidget* row_widget = file ? new QWidget(params_box_) : nullptr;
            // One line: newlines (prm-model's template) show as \n.
            auto* line =
                new QLineEdit(QString(value).replace("\n", "\\n"), file ? row_widget : params_box_);
            connect(line, &QLineEdit::textChanged, this, [this, key](const QString& v) {
                scorer_values_[key] = QString(v).replace("\\n", "\n");
            });
            edit = line;
            field = line;
            if (file) {
                line->setPlaceholderText("choose the GGUF file…");
                field = row_widget;
                auto* l = new QHBoxLayout(field);
                l->setContentsMargins(0, 0, 0, 0);
                l->addWidget(line, 1);
                auto* browse = new QPushButton("…", field);
                browse->setObjectName(object + "_browse");
                browse->setMaximumWidth(30);
                browse->setToolTip("Choose the file");
                l->addWidget(browse);
                connect(browse, &QPushButton::clicked, this, [this, line] {
                    const QString f = QFileDialog::getOpenFileName(
                        this, "Scorer model", line->text(), "GGUF models (*.gguf);;All files (*)");
                    if (!f.isEmpty()) line->setText(f);
                });
            }
        }
        edit->setObjectName(object);
        field->setToolTip(QString::fromStdString(o.help));
        edit->setToolTip(QString::fromStdString(o.help));
        params_form_->insertRow(++row, "scorer " + QString::fromStdString(o.name), field);
        scorer_rows_.push_back(field);
        scorer_fields_.push_back({o.name, dflt, edit});
    }
}

void MainWindow::show_run_setup(const RunRow& run) {
    // The Setup pane shows the opened run's strategy, parameters and seed,
    // so Run repeats it (a strategy this build lacks leaves the pane as is).
    const int idx = strategy_->findData(QString::fromStdString(run.strategy));
    if (idx < 0) {
        statusBar()->showMessage(
            QString("strategy %1 is not available here").arg(QString::fromStdString(run.strategy)),
            5000);
        return;
    }
    strategy_->setCurrentIndex(idx);
    rebuild_param_form();  // the defaults first: a stored run may predate a parameter
    seed_->setValue(static_cast<int>(run.seed));
    nlohmann::json params;
    try {
        params = nlohmann::json::parse(run.params.empty() ? "{}" : run.params);
    } catch (const std::exception&) {
        return;
    }
    if (!params.is_object()) return;
    for (const auto& [name, v] : params.items()) {
        QVariant value;
        if (v.is_boolean())
            value = v.get<bool>();
        else if (v.is_number_integer())
            value = v.get<qlonglong>();
        else if (v.is_number())
            value = v.get<double>();
        else if (v.is_string())
            value = QString::fromStdString(v.get<std::string>());
        else
            continue;
        set_param(QString::fromStdString(name), value);
    }
}

void MainWindow::rerun(const RunRow& run) {
    if (!model_ready_ || host_->running()) {
        statusBar()->showMessage("a run is in progress, or no model is loaded", 5000);
        return;
    }
    // The run's task (from the suite when it is there), strategy, parameters and seed.
    const int t = task_->findText(QString::fromStdString(run.task_id));
    if (t >= 0 && tasks_[static_cast<size_t>(t)].prompt == run.prompt)
        task_->setCurrentIndex(t);
    else
        prompt_->setPlainText(QString::fromStdString(run.prompt));
    show_run_setup(run);
    if (strategy_->currentData().toString().toStdString() != run.strategy) return;  // said why
    start_run();
    if (!same_model(run))
        statusBar()->showMessage(QString("re-running run %1 on the loaded model %2 (the run's was "
                                         "%3)")
                                     .arg(run.id)
                                     .arg(loaded_model_, QString::fromStdString(run.model_name)),
                                 10000);
}

void MainWindow::set_param(const QString& name, const QVariant& value) {
    for (auto& [n, w] : param_widgets_) {
        if (QString::fromStdString(n) != name) continue;
        if (auto* s = qobject_cast<QSpinBox*>(w))
            s->setValue(value.toInt());
        else if (auto* d = qobject_cast<QDoubleSpinBox*>(w))
            d->setValue(value.toDouble());
        else if (auto* c = qobject_cast<QCheckBox*>(w))
            c->setChecked(value.toBool());
        else if (auto* b = qobject_cast<QComboBox*>(w))
            b->setCurrentText(value.toString());
        else if (auto* l = qobject_cast<QLineEdit*>(w))
            l->setText(value.toString());
    }
}

app::RunRequest MainWindow::current_request() const {
    app::RunRequest req;
    req.strategy = strategy_->currentData().toString().toStdString();
    for (auto& [n, w] : param_widgets_) {
        QString v;
        if (auto* s = qobject_cast<QSpinBox*>(w))
            v = QString::number(s->value());
        else if (auto* d = qobject_cast<QDoubleSpinBox*>(w))
            v = QString::number(d->value());
        else if (auto* c = qobject_cast<QCheckBox*>(w))
            v = c->isChecked() ? "true" : "false";
        else if (auto* b = qobject_cast<QComboBox*>(w))
            v = b->currentText();
        else if (auto* l = qobject_cast<QLineEdit*>(w))
            v = l->text();
        req.sets.push_back({n, v.toStdString()});
    }
    // The scorer's options that differ from their defaults (--scorer-opt).
    for (const ScorerField& f : scorer_fields_) {
        QString v;
        if (auto* b = qobject_cast<QComboBox*>(f.edit))
            v = b->currentText();
        else if (auto* l = qobject_cast<QLineEdit*>(f.edit))
            v = QString(l->text()).replace("\\n", "\n");  // as shown: \n for a newline
        if (v != f.dflt) req.config.scorer_options[f.name] = v.toStdString();
    }
    req.seed = static_cast<uint64_t>(seed_->value());
    // Budgets and hidden-state taps (the latent map and the latent scorer
    // use the first tapped layer; a server has none).
    apply_run_settings(req);
    int ti = task_->currentIndex();
    std::string prompt = prompt_->toPlainText().toStdString();
    if (!prompt.empty() && prompt.back() != '\n') prompt += "\n";
    // The box still holds the task's question (a suite's need not end in a newline).
    const auto trimmed = [](std::string t) {
        while (!t.empty() && t.back() == '\n') t.pop_back();
        return t;
    };
    const Task* suite_task = nullptr;
    if (ti >= 0 && ti < static_cast<int>(tasks_.size()) &&
        trimmed(tasks_[static_cast<size_t>(ti)].prompt) == trimmed(prompt)) {
        suite_task = &tasks_[static_cast<size_t>(ti)];
        req.task = *suite_task;
        const QString file = suite_->currentData().toString();
        req.suite = (file.isEmpty() ? suite_->currentText() : file).toStdString();
    } else {
        req.task = Task{"prompt", prompt, "", ""};  // empty pattern: the default answer pattern
    }
    // A suite task keeps its own chat and system settings unless changed here.
    const bool chat = chat_->isChecked();
    req.prompt.chat = suite_task && (suite_task->chat == 1) == chat ? -1 : chat ? 1 : 0;
    const std::string system = system_->text().toStdString();
    if (!suite_task || system != suite_task->system) req.prompt.system = system;
    req.prompt.thinking = thinking_->checkState() == Qt::PartiallyChecked ? -1
                          : thinking_->checkState() == Qt::Checked        ? 1
                                                                          : 0;
    req.prompt.think_min = think_min_->value();
    req.prompt.think_max = think_max_->value();
    return req;
}

void MainWindow::start_run() {
    if (!model_ready_ || host_->running()) return;
    const app::RunRequest req = current_request();
    run_btn_->setEnabled(false);
    pause_btn_->setEnabled(true);
    stop_btn_->setEnabled(true);
    progress_->setRange(0, 0);
    paused_ = false;
    pause_btn_->setText("Pause");
    run_requested_ = true;
    branch_running_ = false;
    emit requestRun(req);
}

void MainWindow::branch_from(int node, int index, int alternative, bool sample_like_run) {
    if (!model_ready_ || host_->running() || node < 0 || node >= live_.tree().size()) return;
    app::BranchChoice choice;
    choice.node = node;
    choice.index = index;
    choice.alternative = alternative;
    choice.sample_like_run = sample_like_run;
    choice.seed = static_cast<uint64_t>(seed_->value());
    app::BranchRequest br;
    try {
        br = app::counterfactual_request(live_.info(), live_.tree(), choice);
    } catch (const Error& e) {
        refuse_branch(QString::fromStdString(e.what()));
        return;
    }
    app::RunRequest req = std::move(br.request);
    const QString message =
        QString("counterfactual: continuing with '%1' instead of '%2' (%3)%4")
            .arg(QString::fromStdString(br.forced_piece), QString::fromStdString(br.replaced_piece),
                 QString::fromStdString(br.sampling),
                 br.linked ? QString()
                           : QString("; not linked to a stored run: branch from the run's own "
                                     "nodes to link it"));
    // The branch continues on the run's own model, never silently on
    // whichever model is loaded (docs/user-guide.md).
    const RunRow& run = live_.info();
    const QString run_path = QString::fromStdString(run.model_path);
    const QString run_model = QString("%1 (%2)").arg(
        QString::fromStdString(run.model_name.empty() ? "?" : run.model_name),
        run_path.isEmpty() ? "no file recorded" : run_path);
    if (run_path.isEmpty() && run.model_hash.empty()) {  // an imported run that does not say
        start_branch(req, message + QString("; run %1 does not record its model, so %2 is used")
                                        .arg(run.id)
                                        .arg(loaded_model_));
        return;
    }
    if (!run.server.empty()) {  // made on an inference server: only that engine will do
        if (remote_ && same_model(run))
            start_branch(req, message);
        else
            refuse_branch(QString("Run %1 was made on an inference server with the model %2; "
                                  "connect to that server (Setup: engine) to branch from it.")
                              .arg(run.id)
                              .arg(run_model));
        return;
    }
    if (!remote_ && same_model(run)) {
        start_branch(req, message);
        return;
    }
    if (!QFileInfo::exists(run_path)) {
        refuse_branch(QString("Run %1 was made with the model %2, which is not there; the model "
                              "in use (%3) is another. Load the run's model to branch from it.")
                          .arg(run.id)
                          .arg(run_model, loaded_model_));
        return;
    }
    PendingBranch b;
    b.req = std::move(req);
    b.message = message;
    b.model_path = run_path;
    b.model_hash = QString::fromStdString(run.model_hash);
    b.model_name = run_model;
    b.run_id = run.id;
    pending_branch_ = std::move(b);
    load_model(run_path);  // modelLoaded checks its fingerprint, then starts the branch
    statusBar()->showMessage(
        QString("loading run %1's model %2 to branch from it…").arg(run.id).arg(run_model));
}

bool MainWindow::same_model(const RunRow& run) const {
    if (loaded_model_.isEmpty()) return false;
    if (!run.model_hash.empty() && !loaded_hash_.isEmpty())
        return loaded_hash_.toStdString() == run.model_hash;
    const QFileInfo a(loaded_model_), b(QString::fromStdString(run.model_path));
    const QString ca = a.canonicalFilePath(), cb = b.canonicalFilePath();
    return !ca.isEmpty() && !cb.isEmpty() ? ca == cb : a.absoluteFilePath() == b.absoluteFilePath();
}

void MainWindow::start_branch(const app::RunRequest& req_in, const QString& message) {
    if (!model_ready_ || host_->running()) return;
    app::RunRequest req = req_in;
    apply_run_settings(req);
    branch_running_ = req.counterfactual_of.run > 0;
    run_btn_->setEnabled(false);
    stop_btn_->setEnabled(true);
    progress_->setRange(0, 0);
    statusBar()->showMessage(message, 10000);
    run_requested_ = true;
    emit requestRun(req);
}

void MainWindow::refuse_branch(const QString& message) {
    statusBar()->showMessage(message, 15000);
    QMessageBox::warning(this, "Counterfactual branch", message);
}

void MainWindow::stop_run() {
    host_->cancel();
}

void MainWindow::toggle_pause() {
    if (!host_->running()) return;
    paused_ = !paused_;
    host_->set_paused(paused_);
    live_.set_paused(paused_);
    pause_btn_->setText(paused_ ? "Resume" : "Pause");
}

void MainWindow::show_node(int id) {
    if (id < 0 || id >= live_.tree().size()) return;
    const Node& n = live_.tree().at(id);
    QString html = QString("<b>node %1</b> — step %2 of its branch, %3<br>")
                       .arg(id)
                       .arg(n.depth)
                       .arg(status_name(n.status));
    html += QString("tokens %1 &nbsp; mean entropy %2 &nbsp; mean logprob %3<br>")
                .arg(n.tokens.size())
                .arg(n.mean_entropy(), 0, 'f', 3)
                .arg(n.mean_logprob(), 0, 'f', 3);
    if (std::isfinite(n.wall_seconds()) && n.parent >= 0) {  // not known before schema 8
        const double w = n.wall_seconds();
        html += QString("wall %1 s, %2 to %3 s into the run%4<br>")
                    .arg(w, 0, 'f', w < 10 ? 3 : 1)
                    .arg(n.started_at, 0, 'f', 2)
                    .arg(n.ended_at, 0, 'f', 2)
                    .arg(w > 0 && !n.tokens.empty()
                             ? QString(", %1 tok/s")
                                   .arg(static_cast<double>(n.tokens.size()) / w, 0, 'f', 0)
                             : QString());
    }
    html += views::step_signals_html(live_.tree(), id);  // per-step signals
    if (const int th = n.thinking_tokens()) {
        int forced = 0;
        for (const auto& t : n.tokens) forced += t.forced ? 1 : 0;
        html += QString("<i>thinking</i>: %1 of %2 tokens%3<br>")
                    .arg(th)
                    .arg(n.tokens.size())
                    .arg(forced ? QString(", %1 forced by the thinking budget").arg(forced)
                                : QString());
    }
    for (const auto& [k, v] : n.scores) {
        if (k == app::kCounterfactualRunScore) {
            html += QString("<i>counterfactual branch</i>: run %1, grafted here<br>")
                        .arg(static_cast<qint64>(v));
            continue;
        }
        html +=
            QString("%1 = %2<br>").arg(QString::fromStdString(k).toHtmlEscaped()).arg(v, 0, 'f', 4);
    }
    if (n.visits)
        html += QString("visits %1, value %2<br>").arg(n.visits).arg(n.value(), 0, 'f', 3);
    if (!n.answer.empty())
        html +=
            QString("answer <b>%1</b> %2<br>")
                .arg(QString::fromStdString(n.answer).toHtmlEscaped(), n.correct == 1 ? "(correct)"
                                                                       : n.correct == 0 ? "(wrong)"
                                                                                        : "");
    html += "<pre>" +
            QString::fromStdString(n.parent < 0 ? live_.info().prompt : n.text).toHtmlEscaped() +
            "</pre>";
    // The root: what the model was given, as the chat template rendered it.
    const RunRow& info = live_.info();
    if (n.parent < 0 && !info.prompt_rendered.empty())
        html += "<b>as rendered by the chat template</b><pre style=\"color:" +
                views::faded(node_info_->palette().color(QPalette::Text),
                             node_info_->palette().color(QPalette::Base), 0.35)
                    .name() +
                "\">" + QString::fromStdString(info.prompt_rendered).toHtmlEscaped() + "</pre>";
    if (n.parent < 0 && !info.prompt_settings.empty() && info.prompt_settings != "{}")
        html += "<small>prompt settings: " +
                QString::fromStdString(info.prompt_settings).toHtmlEscaped() + "</small>";
    node_info_->setHtml(html);
}

void MainWindow::build_docks() {
    auto dock = [this](const char* title, const char* name, QWidget* w, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        return d;
    };
    node_info_ = new QTextBrowser(this);
    node_info_->setObjectName("nodeInfo");
    dock("Node", "nodeDock", node_info_, Qt::RightDockWidgetArea);
    tokens_ = new views::TokenView(&live_, this);
    auto* tokens_dock = dock("Tokens", "tokensDock", tokens_, Qt::BottomDockWidgetArea);
    signals_ = new views::SignalsView(&live_, this);
    auto* signals_dock = dock("Signals", "signalsDock", signals_, Qt::BottomDockWidgetArea);
    splitDockWidget(tokens_dock, signals_dock, Qt::Horizontal);
    auto* latent_dock = dock("Latent map", "latentDock", new views::LatentView(&live_, this),
                             Qt::BottomDockWidgetArea);
    splitDockWidget(signals_dock, latent_dock, Qt::Horizontal);

    auto* runs = new QWidget(this);
    auto* rl = new QVBoxLayout(runs);
    auto* filter = new QLineEdit(runs);
    filter->setPlaceholderText("filter runs");
    runs_proxy_ = new QSortFilterProxyModel(this);
    runs_proxy_->setSourceModel(&runs_model_);
    runs_proxy_->setFilterKeyColumn(-1);
    runs_proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(filter, &QLineEdit::textChanged, runs_proxy_,
            &QSortFilterProxyModel::setFilterFixedString);
    runs_table_ = new QTableView(runs);
    runs_table_->setObjectName("runsTable");
    runs_table_->setModel(runs_proxy_);
    views::use_sort_arrows(runs_table_->horizontalHeader());  // up: ascending, down: descending
    runs_table_->setSortingEnabled(true);
    runs_table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    runs_table_->horizontalHeader()->setStretchLastSection(true);
    connect(runs_table_, &QTableView::doubleClicked, this, [this](const QModelIndex& i) {
        open_stored_run(i.data(views::RunsTableModel::RunIdRole).toLongLong());
    });
    // Two rows of buttons, so the pane stays narrow beside the tree.
    auto* btns = new QGridLayout();
    btns->setSpacing(4);
    int btn_count = 0;
    auto selected_id = [this]() -> qint64 {
        auto rows = runs_table_->selectionModel()->selectedRows();
        return rows.isEmpty() ? 0 : rows[0].data(views::RunsTableModel::RunIdRole).toLongLong();
    };
    auto add_btn = [&](const char* label, auto fn) {
        auto* b = new QPushButton(label, runs);
        connect(b, &QPushButton::clicked, this, fn);
        btns->addWidget(b, btn_count / 4, btn_count % 4);
        ++btn_count;
    };
    add_btn("Open", [this, selected_id] {
        if (qint64 id = selected_id()) open_stored_run(id);
    });
    add_btn("Rename", [this, selected_id] {
        qint64 id = selected_id();
        if (!id) return;
        bool ok = false;
        QString n =
            QInputDialog::getText(this, "Rename run", "name", QLineEdit::Normal, QString(), &ok);
        if (!ok) return;
        db_->post<int>(
            this, [id, n = n.toStdString()](RunStore& st) { return st.rename(id, n), 0; },
            [this](int) { refresh_runs(); },
            [this](const QString& e) { statusBar()->showMessage(e, 10000); });
    });
    add_btn("Tag", [this, selected_id] {
        qint64 id = selected_id();
        if (!id) return;
        bool ok = false;
        QString t =
            QInputDialog::getText(this, "Tag run", "tag", QLineEdit::Normal, QString(), &ok);
        if (!ok || t.isEmpty()) return;
        db_->post<int>(
            this, [id, t = t.toStdString()](RunStore& st) { return st.add_tag(id, t), 0; },
            [this](int) { refresh_runs(); },
            [this](const QString& e) { statusBar()->showMessage(e, 10000); });
    });
    add_btn("Delete", [this, selected_id] {
        qint64 id = selected_id();
        if (!id || QMessageBox::question(
                       this, "Delete run",
                       QString("Delete run %1 and everything stored with it?").arg(id)) !=
                       QMessageBox::Yes)
            return;
        db_->post<int>(
            this, [id](RunStore& st) { return st.remove(id), 0; },
            [this, id](int) {
                // The deleted run leaves the views too, unless it is running.
                if (live_.info().id == id && !host_->running()) live_.clear();
                refresh_runs();
            },
            [this](const QString& e) { statusBar()->showMessage(e, 10000); });
    });
    add_btn("Re-run", [this] {
        const auto rows = runs_table_->selectionModel()->selectedRows();
        if (rows.isEmpty()) return;
        if (const RunRow* r = runs_model_.run_at(runs_proxy_->mapToSource(rows[0]).row()))
            rerun(*r);
    });
    add_btn("Export…", [this] { export_run(); });
    add_btn("Compare", [this] { compare_selected(); });
    rl->addWidget(filter);
    rl->addWidget(runs_table_);
    rl->addLayout(btns);
    auto* node_dock = findChild<QDockWidget*>("nodeDock");
    QString why;
    QWidget* monitor = views::make_live_monitor(&live_, this, &why);
    auto* mon = dock("Live monitor", "monitorDock", monitor, Qt::RightDockWidgetArea);
    mon->setMinimumHeight(120);
    splitDockWidget(node_dock, mon, Qt::Vertical);
    auto* runs_dock = dock("Runs", "runsDock", runs, Qt::RightDockWidgetArea);
    tabifyDockWidget(node_dock, runs_dock);
    build_probes();
    node_dock->raise();
    if (!why.isEmpty()) statusBar()->showMessage("Live monitor off: " + why, 10000);
    resizeDocks({mon}, {160}, Qt::Vertical);
}

void MainWindow::build_menus() {
    QMenu* file = menuBar()->addMenu("&File");
    file->addAction("Open model…", QKeySequence::Open, this, &MainWindow::choose_model);
    QMenu* recent = file->addMenu("Recent models");
    connect(recent, &QMenu::aboutToShow, this, [this, recent] {
        recent->clear();
        for (const QString& path : QSettings().value("recentModels").toStringList())
            recent->addAction(path, this, [this, path] { load_model(path); });
        if (recent->isEmpty()) recent->addAction("(none yet)")->setEnabled(false);
    });
    file->addAction("Export run…", QKeySequence("Ctrl+E"), this, [this] { export_run(); });
    file->addSeparator();
    file->addAction("Quit", QKeySequence::Quit, this, &QWidget::close);
    QMenu* run = menuBar()->addMenu("&Run");
    run->addAction("Run", QKeySequence("Ctrl+R"), this, &MainWindow::start_run);
    run->addAction("Pause / resume", QKeySequence("Ctrl+P"), this, &MainWindow::toggle_pause);
    run->addAction("Stop", QKeySequence("Esc"), this, &MainWindow::stop_run);
    run->addSeparator();
    run->addAction("Reload strategies", QKeySequence("F5"), this, &MainWindow::reload_strategies);
    run->addAction("Experiment…", QKeySequence("Ctrl+Shift+E"), this,
                   &MainWindow::open_experiments);
    QMenu* view = menuBar()->addMenu("&View");
    view->addAction("Fit tree", QKeySequence("F"), tree_, &views::TreeView::fit);
    QAction* dark = view->addAction("Dark theme");
    dark->setCheckable(true);
    dark->setChecked(QSettings().value("dark", false).toBool());
    connect(dark, &QAction::toggled, this, [this](bool on) {
        set_dark(on);
        QSettings().setValue("dark", on);
    });
    QMenu* cmp = menuBar()->addMenu("&Compare");
    cmp->addAction("Compare selected runs", this, [this] { compare_selected(); });
    QMenu* help = menuBar()->addMenu("&Help");
    help->addAction("About Reasonscope", this, [this] {
        QMessageBox::about(
            this, "Reasonscope",
            "Reasonscope " RS_APP_VERSION
            "\nA workbench for LLM reasoning traces: run inference-time search "
            "on a local model, watch the tree grow, store, compare and export runs.");
    });
}

ExperimentWindow* MainWindow::open_experiments() {
    if (!experiments_) {
        experiments_ = new ExperimentWindow(&plugins_, host_, this);
        // A point's runs: the runs browser filtered by the point's tags, and
        // its first run in the views.
        connect(experiments_, &ExperimentWindow::openRuns, this,
                [this](const QString& filter, qint64 first) {
                    auto* dock = findChild<QDockWidget*>("runsDock");
                    if (auto* edit = dock ? dock->widget()->findChild<QLineEdit*>() : nullptr)
                        edit->setText(filter);
                    if (dock) dock->raise();
                    refresh_runs();
                    open_stored_run(first);
                });
        connect(experiments_, &ExperimentWindow::sweepEnded, this, &MainWindow::refresh_runs);
    } else {
        experiments_->reload_strategies();
    }
    experiments_->show();
    experiments_->raise();
    experiments_->activateWindow();
    return experiments_;
}

void MainWindow::set_dark(bool dark) {
    // Disabled colours included; the views take their colours from it.
    QApplication::setPalette(dark ? views::dark_palette() : views::light_palette());
}

void MainWindow::refresh_runs() {
    db_->post<std::vector<RunRow>>(
        this,
        [](RunStore& st) {
            RunFilter f;
            f.limit = 500;
            return st.list(f);
        },
        [this](std::vector<RunRow> rows) { runs_model_.set_runs(std::move(rows)); },
        [this](const QString& e) { statusBar()->showMessage(e, 10000); });
}

void MainWindow::open_stored_run(qint64 id) {
    if (host_->running()) {
        statusBar()->showMessage("a run is in progress; stop it before opening a stored run", 5000);
        return;
    }
    statusBar()->showMessage(QString("opening run %1…").arg(id));
    // A long run shows its tree first, from its outline (no tokens: read in
    // a fraction of the time); the whole run follows on the same thread and
    // replaces it, keeping the selection. A branch needs its tokens to be
    // grafted, so it opens whole.
    db_->post<std::shared_ptr<StoredRun>>(
        this,
        [id](RunStore& st) {
            const auto row = st.get(id);
            if (!row || row->parent_run > 0 || row->tokens < kOutlineFirstTokens)
                return std::shared_ptr<StoredRun>();
            return std::make_shared<StoredRun>(st.load_outline(id));
        },
        [this, id](std::shared_ptr<StoredRun> outline) {
            if (!outline || host_->running()) return;
            show_run_setup(outline->run);
            live_.load(std::move(*outline));
            tree_->fit();
            statusBar()->showMessage(QString("run %1: tree shown, reading its tokens…").arg(id));
        },
        [](const QString&) {});  // the whole run's load says what went wrong
    // A counterfactual branch opens grafted onto its parent's tree, the
    // branch's trace selected (app/core/counterfactual.h).
    struct Opened {
        StoredRun run;
        int select = -1;
        QString message;
    };
    db_->post<std::shared_ptr<Opened>>(
        this,
        [id](RunStore& st) {
            auto o = std::make_shared<Opened>();
            o->run = st.load(id);
            o->message = QString("run %1 opened").arg(id);
            const int64_t parent = o->run.run.parent_run;
            if (parent <= 0) return o;
            if (!st.get(parent)) {
                o->message +=
                    QString(" (a counterfactual branch of run %1, which is deleted)").arg(parent);
                return o;
            }
            app::GraftedRun g = app::graft_counterfactual(st.load(parent), o->run);
            o->run = std::move(g.run);
            o->select = g.chosen;
            o->message = QString(
                             "run %1, a counterfactual branch, shown grafted onto run %2's "
                             "tree (node %3 on)")
                             .arg(id)
                             .arg(parent)
                             .arg(g.first);
            return o;
        },
        [this, id](std::shared_ptr<Opened> o) {
            if (host_->running()) return;  // a run started meanwhile owns the views
            // After its outline: the same view, the user's selection kept.
            const bool outlined =
                live_.info().id == id && o->select < 0 && live_.tree().size() == o->run.tree.size();
            const int selected = outlined ? live_.selected() : -1;
            if (!outlined) show_run_setup(o->run.run);
            live_.load(std::move(o->run));
            if (!outlined) tree_->fit();
            if (o->select >= 0) live_.select(o->select);
            if (selected >= 0) live_.select(selected);
            statusBar()->showMessage(o->message, o->select >= 0 ? 10000 : 3000);
            emit storedRunOpened(id);
        },
        [this](const QString& e) { QMessageBox::warning(this, "Reasonscope", e); });
}

void MainWindow::export_run() {
    auto rows = runs_table_->selectionModel()->selectedRows();
    qint64 id = rows.isEmpty() ? live_.info().id
                               : rows[0].data(views::RunsTableModel::RunIdRole).toLongLong();
    if (!id) return;
    QString f = QFileDialog::getSaveFileName(
        this, "Export run", QString("run-%1.html").arg(id),
        "HTML report (*.html);;JSON (*.json);;Markdown (*.md);;CSV tokens and nodes (*.csv)");
    if (!f.isEmpty()) export_run_to(id, f);
}

void MainWindow::export_run_to(qint64 id, const QString& f) {
    // Loading, formatting and writing all happen on the run store's thread,
    // with the writer the CLI's `export` uses (app/core/export_run.h).
    db_->post<std::vector<std::string>>(
        this,
        [id, path = f.toStdString()](RunStore& st) {
            return app::export_run(st.load(id), path, app::export_format_of(path));
        },
        [this](std::vector<std::string> written) {
            QStringList paths;
            for (const std::string& p : written) paths << QString::fromStdString(p);
            statusBar()->showMessage("exported " + paths.join(" and "), 5000);
            emit exported(paths);
        },
        [this](const QString& e) { QMessageBox::warning(this, "Reasonscope", e); });
}

namespace {

// Loads the runs on the run store's thread, then opens the compare dialog
// (two runs: their diff; more: a table of them) and says so.
void open_compare(MainWindow* w, DbWorker& db, std::vector<qint64> ids) {
    db.post<std::shared_ptr<std::vector<StoredRun>>>(
        w,
        [ids](RunStore& st) {
            auto runs = std::make_shared<std::vector<StoredRun>>();
            for (qint64 id : ids) runs->push_back(st.load(id));
            return runs;
        },
        [w](std::shared_ptr<std::vector<StoredRun>> runs) {
            auto* dlg = new QDialog(w);
            dlg->setObjectName("compareDialog");
            dlg->setAttribute(Qt::WA_DeleteOnClose);
            auto* view = new views::CompareView(std::move(*runs), dlg);
            const int n = view->run_count();
            const auto title = [dlg, n](qint64 a, qint64 b) {
                dlg->setWindowTitle(n > 2
                                        ? QString("Compare %1 runs: %2 and %3").arg(n).arg(a).arg(b)
                                        : QString("Compare runs %1 and %2").arg(a).arg(b));
            };
            if (n > 2)
                dlg->setWindowTitle(QString("Compare %1 runs").arg(n));
            else
                title(view->run_a().run.id, view->run_b().run.id);
            QObject::connect(view, &views::CompareView::pairShown, dlg, title);
            auto* lay = new QVBoxLayout(dlg);
            lay->setContentsMargins(4, 4, 4, 4);
            lay->addWidget(view);
            dlg->resize(1280, 800);
            dlg->show();
            emit w->compareShown(dlg);
        },
        [w](const QString& e) { QMessageBox::warning(w, "Reasonscope", e); });
}

}  // namespace

void MainWindow::compare_selected() {
    auto rows = runs_table_->selectionModel()->selectedRows();
    if (rows.size() < 2) {
        QMessageBox::information(this, "Compare",
                                 "Select two or more runs in the runs browser (Ctrl+click).");
        return;
    }
    // In the browser's order: two runs read left to right as listed.
    std::sort(rows.begin(), rows.end(),
              [](const QModelIndex& x, const QModelIndex& y) { return x.row() < y.row(); });
    std::vector<qint64> ids;
    for (const QModelIndex& r : rows)
        ids.push_back(r.data(views::RunsTableModel::RunIdRole).toLongLong());
    open_compare(this, *db_, std::move(ids));
}

void MainWindow::compare_runs_by_id(qint64 ia, qint64 ib) {
    open_compare(this, *db_, {ia, ib});
}

}  // namespace rs::gui
