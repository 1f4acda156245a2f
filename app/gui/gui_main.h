#pragma once

namespace rs::gui {
int run_gui(int argc, char** argv);  // the desktop app (QApplication event loop)
bool display_available();            // a display (or a Qt platform) to draw on
}  // namespace rs::gui
