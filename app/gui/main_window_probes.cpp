// The main window's Probes dock (views/widgets/probe_view.h): a token's
// logit lens (asked for from the Tokens pane's context menu) and the answer
// entropy per step of the selected trace, both computed on the engine
// thread (EngineHost::compute_lens / compute_answer_entropy).
#include <QDockWidget>
#include <QMetaObject>

#include "core/answer_entropy.h"
#include "gui/engine_host.h"
#include "gui/main_window.h"
#include "widgets/probe_view.h"
#include "widgets/token_view.h"

namespace rs::gui {

namespace {
constexpr int kLensTop = 8;         // tokens per layer
constexpr int kEntropySamples = 8;  // answers per step
}  // namespace

void MainWindow::build_probes() {
    qRegisterMetaType<rs::LogitLens>();
    qRegisterMetaType<rs::views::AnswerEntropyCurve>();
    probes_ = new views::ProbeView(this);
    auto* dock = new QDockWidget("Probes", this);
    dock->setObjectName("probesDock");
    dock->setWidget(probes_);
    addDockWidget(Qt::RightDockWidgetArea, dock);
    if (auto* node_dock = findChild<QDockWidget*>("nodeDock")) tabifyDockWidget(node_dock, dock);

    // Why a probe cannot run now ("" when it can).
    auto why_not = [this]() -> QString {
        if (!model_ready_) return "no model loaded";
        if (host_->running()) return "a run is in progress; probes run when it ends";
        if (live_.tree().size() < 2) return "no run shown";
        return {};
    };
    connect(tokens_, &views::TokenView::lensRequested, this,
            [this, dock, why_not](int node, int index) {
                dock->show();
                dock->raise();
                if (const QString why = why_not(); !why.isEmpty()) {
                    probes_->show_lens_message("Logit lens: " + why);
                    return;
                }
                probes_->show_lens_message(
                    QString("Logit lens of node %1, token %2: computing…").arg(node).arg(index));
                QMetaObject::invokeMethod(
                    host_,
                    [h = host_, run = live_.info(), tree = live_.tree(), node, index] {
                        h->compute_lens(run, tree, node, index, kLensTop);
                    },
                    Qt::QueuedConnection);
            });
    connect(probes_, &views::ProbeView::answerEntropyRequested, this, [this, why_not] {
        if (const QString why = why_not(); !why.isEmpty()) {
            probes_->show_entropy_message("Answer entropy: " + why);
            return;
        }
        // The selected node's trace, else the run's chosen (or first finished) one.
        int leaf = live_.selected();
        if (leaf <= 0) leaf = app::default_trace_leaf(live_.info(), live_.tree());
        probes_->show_entropy_message(
            QString("Answer entropy per step of the trace to node %1: computing…").arg(leaf));
        QMetaObject::invokeMethod(
            host_,
            [h = host_, run = live_.info(), tree = live_.tree(), leaf] {
                h->compute_answer_entropy(run, tree, leaf, kEntropySamples);
            },
            Qt::QueuedConnection);
    });
    connect(host_, &EngineHost::lensReady, probes_, &views::ProbeView::show_lens);
    connect(host_, &EngineHost::answerEntropyReady, probes_,
            &views::ProbeView::show_answer_entropy);
    connect(host_, &EngineHost::probeFailed, this, [this](bool lens, const QString& message) {
        if (lens)
            probes_->show_lens_message(message);
        else
            probes_->show_entropy_message(message);
    });
}

}  // namespace rs::gui
