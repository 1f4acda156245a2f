// The live monitor: Dear ImGui drawn in a QOpenGLWidget (opengl3 backend,
// a small shim forwarding Qt mouse input). Shows tokens/s, forward passes,
// branches alive, KV use and a live entropy sparkline of the running search.
// make_live_monitor() returns a plain label saying why when OpenGL cannot
// be used (no GL, or a platform such as "offscreen" without GL widgets).
#pragma once

#include <QWidget>

#include "models/run_model.h"

namespace rs::views {

QWidget* make_live_monitor(RunModel* model, QWidget* parent, QString* why_off = nullptr);

}  // namespace rs::views
