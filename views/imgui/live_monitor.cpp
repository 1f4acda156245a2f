// Backend used: imgui_impl_opengl3 (from Debian's libimgui-dev). Implemented
// here: display size, delta time, mouse position and buttons. Not needed:
// keyboard and text input (the monitor is read-only).
#include "imgui/live_monitor.h"

#include <QElapsedTimer>
#include <QGuiApplication>
#include <QLabel>
#include <QMouseEvent>
#include <QOffscreenSurface>
#include <QOpenGLContext>
#include <QOpenGLWidget>
#include <QTimer>
#include <algorithm>

#include "backends/imgui_impl_opengl3.h"
#include "imgui.h"

namespace rs::views {
namespace {

class LiveMonitor : public QOpenGLWidget {
  public:
    LiveMonitor(RunModel* model, QWidget* parent) : QOpenGLWidget(parent), model_(model) {
        setObjectName("liveMonitor");
        setMouseTracking(true);
        setMinimumHeight(110);
        // Frames on change only (a timer here kept a core busy at idle).
        for (auto sig : {&RunModel::changed, &RunModel::runReset, &RunModel::runFinished,
                         &RunModel::stateChanged})
            connect(model_, sig, this, [this] { request_frames(1); });
        setProperty("frames", 0);
        clock_.start();
    }
    ~LiveMonitor() override {
        // The base class destroys the context after this destructor: the
        // aboutToBeDestroyed hook must not call into this object then.
        disconnect(destroy_hook_);
        makeCurrent();
        shutdown();
        doneCurrent();
    }

  protected:
    void initializeGL() override {
        // May run again after a context change: drop the old backend first.
        shutdown();
        ctx_ = ImGui::CreateContext();
        ImGui::SetCurrentContext(ctx_);
        ImGui::GetIO().IniFilename = nullptr;
        ImGui::StyleColorsDark();
        ImGui_ImplOpenGL3_Init(nullptr);
        disconnect(destroy_hook_);
        destroy_hook_ = connect(context(), &QOpenGLContext::aboutToBeDestroyed, this, [this] {
            makeCurrent();
            shutdown();
            doneCurrent();
        });
    }

    void paintGL() override {
        if (!ctx_) return;
        ++frames_;
        setProperty("frames", frames_);
        ImGui::SetCurrentContext(ctx_);
        ImGuiIO& io = ImGui::GetIO();
        const qreal dpr = devicePixelRatioF();
        io.DisplaySize = ImVec2(static_cast<float>(width()), static_cast<float>(height()));
        io.DisplayFramebufferScale = ImVec2(static_cast<float>(dpr), static_cast<float>(dpr));
        io.DeltaTime = std::max(1e-4f, static_cast<float>(clock_.restart()) / 1000.0f);
        io.MousePos = ImVec2(static_cast<float>(mouse_.x()), static_cast<float>(mouse_.y()));
        io.MouseDown[0] = buttons_ & Qt::LeftButton;
        io.MouseDown[1] = buttons_ & Qt::RightButton;
        ImGui_ImplOpenGL3_NewFrame();
        ImGui::NewFrame();
        ImGui::SetNextWindowPos(ImVec2(0, 0));
        ImGui::SetNextWindowSize(io.DisplaySize);
        ImGui::Begin("Live monitor", nullptr,
                     ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove);
        const QString summary = monitor_summary(*model_);
        setProperty("summary", summary);
        ImGui::TextUnformatted(summary.toUtf8().constData());
        const auto& h = model_->entropy_trace();
        const int n = std::min<int>(static_cast<int>(h.size()), 400);
        if (n > 1)
            ImGui::PlotLines("entropy", h.data() + h.size() - static_cast<size_t>(n), n, 0, nullptr,
                             0.0f, 3.0f, ImVec2(io.DisplaySize.x - 80, io.DisplaySize.y - 40));
        ImGui::End();
        ImGui::Render();
        glViewport(0, 0, static_cast<int>(width() * dpr), static_cast<int>(height() * dpr));
        glClearColor(0.12f, 0.12f, 0.14f, 1.0f);
        glClear(GL_COLOR_BUFFER_BIT);
        ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
        // ImGui settles hover and clicks a frame after the input: one more.
        if (extra_frames_ > 0) {
            --extra_frames_;
            QTimer::singleShot(0, this, qOverload<>(&QWidget::update));
        }
    }

    void mouseMoveEvent(QMouseEvent* e) override {
        mouse_ = e->position().toPoint();
        request_frames(2);
    }
    void mousePressEvent(QMouseEvent* e) override {
        buttons_ = e->buttons();
        request_frames(2);
    }
    void mouseReleaseEvent(QMouseEvent* e) override {
        buttons_ = e->buttons();
        request_frames(2);
    }
    void leaveEvent(QEvent*) override {
        mouse_ = QPoint(-1000, -1000);  // no hover left behind
        request_frames(2);
    }

  private:
    void request_frames(int n) {
        extra_frames_ = std::max(extra_frames_, n - 1);
        update();
    }
    void shutdown() {
        if (!ctx_) return;
        ImGui::SetCurrentContext(ctx_);
        ImGui_ImplOpenGL3_Shutdown();
        ImGui::DestroyContext(ctx_);
        ctx_ = nullptr;
    }
    RunModel* model_;
    QMetaObject::Connection destroy_hook_;
    ImGuiContext* ctx_ = nullptr;
    QElapsedTimer clock_;
    QPoint mouse_;
    Qt::MouseButtons buttons_;
    int frames_ = 0, extra_frames_ = 0;
};

}  // namespace

QString monitor_state(const RunModel& model) {
    const bool stored = !model.live() && model.finished();
    if (!model.live() && !stored) return "idle";
    const std::string& st = model.info().status;
    QString state;
    if (!model.finished() || st == "running")
        state = model.paused() ? "paused" : "running";
    else if (st == "ok")
        state = "finished";
    else if (st == "cancelled")
        state = "cancelled";
    else if (st == "error")
        state = "failed";
    else if (st == "budget")
        state = "budget reached";
    else
        state = QString::fromStdString(st.empty() ? "finished" : st);
    return stored ? QString("stored run %1: %2").arg(model.info().id).arg(state) : state;
}

QString monitor_summary(const RunModel& model) {
    RunMetrics m;
    if (!model.metrics().empty()) m = model.metrics().back();
    // The peak: the live metrics', else the stored run's row; stored metric
    // samples do not keep it, and 0 means unknown there.
    int64_t peak = m.kv_peak_bytes;
    if (peak <= 0) peak = model.info().kv_peak_bytes;
    QString kv = QString("KV %1 MB").arg(m.kv_bytes / 1e6, 0, 'f', 1);
    if (peak > 0) kv += QString(" (peak %1)").arg(peak / 1e6, 0, 'f', 1);
    return QString("%1 | tok/s %2 | passes %3 | branches %4 | %5 | nodes %6")
        .arg(monitor_state(model))
        .arg(m.tokens_per_second, 0, 'f', 0)
        .arg(m.forward_passes)
        .arg(m.branches_alive)
        .arg(kv)
        .arg(model.tree().size());
}

QWidget* make_live_monitor(RunModel* model, QWidget* parent, QString* why_off) {
    QString why;
    const QString platform = QGuiApplication::platformName();
    if (platform == "offscreen" || platform == "minimal") {
        why = "the '" + platform + "' platform has no OpenGL widgets";
    } else if (qEnvironmentVariableIsSet("RS_NO_GL")) {
        why = "RS_NO_GL is set";
    } else {
        QOpenGLContext probe;
        QOffscreenSurface surface;
        surface.create();
        if (!probe.create() || !probe.makeCurrent(&surface))
            why = "no OpenGL context could be created";
        else
            probe.doneCurrent();
    }
    if (why.isEmpty()) return new LiveMonitor(model, parent);
    if (why_off) *why_off = why;
    auto* label = new QLabel("Live monitor off: " + why + ".", parent);
    label->setObjectName("liveMonitor");
    label->setMargin(8);
    return label;
}

}  // namespace rs::views
