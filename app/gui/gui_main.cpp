#include "gui/gui_main.h"

#include <QApplication>
#include <QCommandLineParser>
#include <cstdio>

#include "core/session_options.h"
#include "gui/main_window.h"

namespace rs::gui {

int run_gui(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName("reasonscope");
    QApplication::setApplicationName("reasonscope");
    QApplication::setApplicationVersion(RS_APP_VERSION);
    QCommandLineParser p;
    p.setApplicationDescription("Reasonscope: a workbench for LLM reasoning traces");
    p.addHelpOption();
    p.addOption({"model", "GGUF model (default: the bundled model)", "FILE"});
    p.addOption({"db", "run store (default: the user's data folder)", "FILE"});
    p.addOption({"suite", "task suite to show first", "NAME", "hard"});
    p.addOption({"threads", "compute threads (0 = all cores)", "N", "0"});
    p.addOption({"kv", "KV cache type: f32 (default) or f16 (llama.cpp's default)", "TYPE", "f32"});
    p.addOption({"deterministic", "every row's logits independent of its batch, prompts included"});
    p.addOption({"backend",
                 QString::fromStdString("where the engine computes: " + app::backend_names() +
                                        " or auto (default)"),
                 "NAME", "auto"});
    QStringList args = app.arguments();
    if (args.size() > 1 && args[1] == "gui") args.removeAt(1);
    p.process(args);
    WindowOptions opt;
    opt.model_path = p.value("model");
    opt.db_path = p.value("db");
    opt.suite = p.value("suite");
    opt.threads = p.value("threads").toInt();
    try {
        opt.kv = parse_kv_type(p.value("kv").toStdString());
        app::check_backend_name(p.value("backend").toStdString());
        opt.backend = p.value("backend");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "reasonscope: %s\n", e.what());
        return 2;
    }
    opt.deterministic = p.isSet("deterministic");
    MainWindow w(opt);
    w.show();
    return app.exec();
}

bool display_available() {
    return qEnvironmentVariableIsSet("DISPLAY") || qEnvironmentVariableIsSet("WAYLAND_DISPLAY") ||
           qEnvironmentVariableIsSet("QT_QPA_PLATFORM");
}

}  // namespace rs::gui
