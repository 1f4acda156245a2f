// The Setup pane's "Budgets and engine" section: every setting the CLI's
// run takes that is not a strategy parameter. Budgets (tokens, forward
// passes, seconds) and hidden-state taps go with each run; threads, backend,
// KV cache type and deterministic mode are the engine's, applied by loading
// the model again with them.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QThread>
#include <QToolButton>

#include "core/session_options.h"
#include "gui/main_window.h"
#include "reasonscope/backend.h"

namespace rs::gui {

namespace {

// "-1, 3" -> {-1, 3}; nullopt for anything else ("" -> {}: no taps).
std::optional<std::vector<int>> parse_layers(const QString& text) {
    std::vector<int> out;
    for (const QString& part : text.split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = part.trimmed().toInt(&ok);
        if (!ok || v < -1) return std::nullopt;
        out.push_back(v);
    }
    return out;
}

}  // namespace

// A backend that cannot run here (no CUDA device, ...) greyed out, the
// reason as its tooltip. Called once a local model has loaded: the engine's
// thread has probed the devices then (cached), so the UI thread never waits
// on a driver.
void MainWindow::mark_unavailable_backends() {
    auto* m = qobject_cast<QStandardItemModel*>(backend_box_->model());
    for (const BackendInfo& b : backends()) {
        const int i = backend_box_->findText(QString::fromStdString(b.name));
        std::string why;
        if (i < 0 || !m || b.available(why)) continue;
        backend_box_->setItemData(i, QString::fromStdString(why), Qt::ToolTipRole);
        m->item(i)->setEnabled(false);
    }
}

void MainWindow::build_engine_settings(QFormLayout* form, QWidget* w) {
    auto* toggle = new QToolButton(w);
    toggle->setObjectName("engineSettingsToggle");
    toggle->setText("Budgets and engine");
    toggle->setCheckable(true);
    toggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    toggle->setArrowType(Qt::RightArrow);
    toggle->setAutoRaise(true);
    form->addRow(toggle);
    auto* box = new QWidget(w);
    box->setObjectName("engineSettings");
    auto* f = new QFormLayout(box);
    f->setContentsMargins(12, 0, 0, 0);
    box->hide();
    form->addRow(box);
    connect(toggle, &QToolButton::toggled, this, [toggle, box](bool on) {
        toggle->setArrowType(on ? Qt::DownArrow : Qt::RightArrow);
        box->setVisible(on);
    });

    // Budgets: the search stops at the first one reached (status "budget").
    const auto budget = [&](const char* name, const QString& tip, int max) {
        auto* s = new QSpinBox(box);
        s->setObjectName(QString("budget_%1").arg(name));
        s->setRange(0, max);
        s->setSpecialValueText("none");
        s->setToolTip(tip + QString(" (0 = none; up to %1)").arg(max));
        return s;
    };
    max_tokens_ = budget("tokens", "Stop the search after this many generated tokens", 1 << 30);
    max_passes_ = budget("passes", "Stop the search after this many forward passes", 1 << 30);
    max_seconds_ = new QDoubleSpinBox(box);
    max_seconds_->setObjectName("budget_seconds");
    max_seconds_->setRange(0, 1e6);
    max_seconds_->setDecimals(1);
    max_seconds_->setSuffix(" s");
    max_seconds_->setSpecialValueText("none");
    max_seconds_->setToolTip("Stop the search after this much wall time (0 = none)");
    f->addRow("max tokens", max_tokens_);
    f->addRow("max passes", max_passes_);
    f->addRow("max time", max_seconds_);

    taps_ = new QLineEdit("-1", box);
    taps_->setObjectName("taps");
    taps_->setPlaceholderText("none");
    taps_->setToolTip(
        "Hidden-state taps: comma-separated layers whose residual stream each step keeps "
        "(-1 = after the final norm). The latent map, the latent signals and the latent scorer "
        "use the first; empty: none (faster, smaller runs).");
    f->addRow("hidden taps", taps_);
    connect(taps_, &QLineEdit::textChanged, this, [this](const QString& t) {
        const bool ok = parse_layers(t).has_value();
        taps_->setStyleSheet(ok ? QString() : "QLineEdit { border: 1px solid #d0302a; }");
        if (!ok) taps_->setToolTip("Not a list of layers: write e.g. -1 or 2, 5, -1");
        run_btn_->setEnabled(ok && model_ready_ && !host_->running());
    });

    // The engine's own settings: applied by loading the model again.
    threads_ = new QSpinBox(box);
    threads_->setObjectName("engineThreads");
    threads_->setRange(0, 1024);
    threads_->setSpecialValueText("all cores");
    threads_->setToolTip(
        QString("Compute threads (this machine has %1)").arg(QThread::idealThreadCount()));
    threads_->setValue(opt_.threads);
    backend_box_ = new QComboBox(box);
    backend_box_->setObjectName("engineBackend");
    backend_box_->addItem("auto");
    for (const BackendInfo& b : backends()) {
        backend_box_->addItem(QString::fromStdString(b.name));
        backend_box_->setItemData(backend_box_->count() - 1, QString::fromStdString(b.description),
                                  Qt::ToolTipRole);
    }
    backend_box_->setCurrentText(opt_.backend);
    backend_box_->setToolTip(
        "Where the engine computes: auto picks a GPU when one can run the "
        "model, else the CPU");
    kv_box_ = new QComboBox(box);
    kv_box_->setObjectName("engineKv");
    kv_box_->addItems({"f32", "f16"});
    kv_box_->setCurrentText(opt_.kv == KvType::F16 ? "f16" : "f32");
    kv_box_->setToolTip(
        "KV cache type: f32 (the engine's default, exact) or f16 (half the "
        "memory; llama.cpp's default)");
    deterministic_ = new QCheckBox("batch-independent logits", box);
    deterministic_->setObjectName("engineDeterministic");
    deterministic_->setChecked(opt_.deterministic);
    deterministic_->setToolTip(
        "Every row's logits independent of the batch it is computed in, prompts included "
        "(slower prompt processing; the same tree however branches are batched)");
    f->addRow("threads", threads_);
    f->addRow("backend", backend_box_);
    f->addRow("KV cache", kv_box_);
    f->addRow("deterministic", deterministic_);
    apply_engine_btn_ = new QPushButton("Apply (reloads the model)", box);
    apply_engine_btn_->setObjectName("applyEngine");
    apply_engine_btn_->setEnabled(false);
    f->addRow(apply_engine_btn_);
    engine_note_ = new QLabel(box);
    engine_note_->setObjectName("engineNote");
    engine_note_->setWordWrap(true);
    f->addRow(engine_note_);
    const auto changed = [this] { update_engine_settings(); };
    connect(threads_, &QSpinBox::valueChanged, this, changed);
    connect(backend_box_, &QComboBox::currentIndexChanged, this, changed);
    connect(kv_box_, &QComboBox::currentIndexChanged, this, changed);
    connect(deterministic_, &QCheckBox::toggled, this, changed);
    connect(apply_engine_btn_, &QPushButton::clicked, this, [this] {
        opt_.threads = threads_->value();
        opt_.backend = backend_box_->currentText();
        opt_.kv = kv_box_->currentText() == "f16" ? KvType::F16 : KvType::F32;
        opt_.deterministic = deterministic_->isChecked();
        apply_engine_btn_->setEnabled(false);
        if (!loaded_model_.isEmpty()) load_model(loaded_model_);
    });
    update_engine_settings();
}

// The engine settings greyed out on a server (it has its own) and during a
// run; Apply only when they differ from the engine's; taps only where the
// engine gives hidden states.
void MainWindow::update_engine_settings() {
    if (!threads_) return;
    const bool local = !remote_;
    const bool idle = !host_->running();
    for (QWidget* wdg :
         std::initializer_list<QWidget*>{threads_, backend_box_, kv_box_, deterministic_})
        wdg->setEnabled(local && idle);
    const bool differs = threads_->value() != opt_.threads ||
                         backend_box_->currentText() != opt_.backend ||
                         (kv_box_->currentText() == "f16") != (opt_.kv == KvType::F16) ||
                         deterministic_->isChecked() != opt_.deterministic;
    apply_engine_btn_->setEnabled(local && idle && differs && !loaded_model_.isEmpty());
    engine_note_->setText(!local    ? "On a server: it has its own engine settings."
                          : differs ? "Changed: Apply loads the model again with these settings."
                                    : QString());
    taps_->setEnabled(caps_.hidden_taps);
    if (!caps_.hidden_taps) taps_->setToolTip("The engine in use gives no hidden states");
}

void MainWindow::update_param_applicability() {
    const auto* e = plugins_.find(strategy_->currentData().toString().toStdString());
    if (!e) return;
    const auto value_of = [this](const std::string& name) -> QString {
        for (auto& [n, w] : param_widgets_) {
            if (n != name) continue;
            if (auto* c = qobject_cast<QComboBox*>(w)) return c->currentText();
            if (auto* b = qobject_cast<QCheckBox*>(w)) return b->isChecked() ? "true" : "false";
            if (auto* sp = qobject_cast<QSpinBox*>(w)) return QString::number(sp->value());
            if (auto* d = qobject_cast<QDoubleSpinBox*>(w)) return QString::number(d->value());
            if (auto* l = qobject_cast<QLineEdit*>(w)) return l->text();
        }
        return {};
    };
    for (const ParamSpec& p : e->info.params) {
        QWidget* wdg = nullptr;
        for (auto& [n, w] : param_widgets_)
            if (n == p.name) wdg = w;
        if (!wdg) continue;
        bool applies = true;
        QStringList when;
        for (const auto& [other, values] : p.applies_when) {
            QStringList vs;
            for (const std::string& v : values) vs << QString::fromStdString(v);
            when << QString("%1 is %2").arg(QString::fromStdString(other), vs.join(" or "));
            applies = applies && vs.contains(value_of(other));
        }
        wdg->setEnabled(applies);
        if (QWidget* label = params_form_->labelForField(wdg)) label->setEnabled(applies);
        if (!when.isEmpty()) {  // the form's tooltip (help, range, default), and when
            if (!wdg->property("baseTip").isValid()) wdg->setProperty("baseTip", wdg->toolTip());
            wdg->setToolTip(wdg->property("baseTip").toString() + "\napplies when " +
                            when.join(" and "));
        }
        if (p.type == "scorer")  // the scorer's own options go with it
            for (QWidget* row : scorer_rows_) {
                row->setEnabled(applies);
                if (QWidget* label = params_form_->labelForField(row)) label->setEnabled(applies);
            }
    }
}

void MainWindow::apply_run_settings(app::RunRequest& req) const {
    req.config.max_tokens = max_tokens_->value();
    req.config.max_passes = max_passes_->value();
    req.config.max_seconds = max_seconds_->value();
    req.config.tap_layers.clear();
    if (caps_.hidden_taps)
        if (const auto layers = parse_layers(taps_->text())) req.config.tap_layers = *layers;
}

}  // namespace rs::gui
