// The live monitor: Dear ImGui drawn in a QOpenGLWidget (opengl3 backend,
// a small shim forwarding Qt mouse input). Shows tokens/s, forward passes,
// branches alive, KV use and a live entropy sparkline of the running search.
// make_live_monitor() returns a plain label saying why when OpenGL cannot
// be used (no GL, or a platform such as "offscreen" without GL widgets).
// It draws a frame only when something changed (the model, its pause
// state, the mouse, a resize): idle, it costs nothing. Its properties
// "frames" (frames drawn) and "summary" (the last drawn summary) are for
// tests.
#pragma once

#include <QWidget>

#include "models/run_model.h"

namespace rs::views {

QWidget* make_live_monitor(RunModel* model, QWidget* parent, QString* why_off = nullptr);

// What the monitor says of the model's run: "idle" (none), "running",
// "paused", then how it ended ("finished", "cancelled", "failed", "budget
// reached", "incomplete"); a stored run says "stored run N: ..." instead.
QString monitor_state(const RunModel& model);
// The monitor's first line: the state, tok/s, passes, branches, KV in use
// and its peak (only where known: live metrics or the stored run's row),
// nodes. The widget draws exactly this text.
QString monitor_summary(const RunModel& model);

}  // namespace rs::views
