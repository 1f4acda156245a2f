// The main window's strategy list as the plugin folders say: Python scripts
// dropped in, removed or fixed while the app runs are listed again without
// a restart (a watcher on the script folders, and Run > Reload strategies),
// and a script that cannot be read is listed greyed out with its error
// (file and line) as tooltip. A rescan waits for the run in progress.
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QSignalBlocker>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTimer>

#include "gui/engine_host.h"
#include "gui/main_window.h"

namespace rs::gui {

void MainWindow::fill_strategy_box() {
    const QString keep = strategy_->currentData().toString();
    {
        const QSignalBlocker block(strategy_);
        strategy_->clear();
        for (const auto& e : plugins_.strategies())
            strategy_->addItem(QString::fromStdString(e.info.name),
                               QString::fromStdString(e.info.id));
        for (const auto& err : plugins_.errors()) {
            if (!err.path.endsWith(".py")) continue;
            strategy_->addItem(QFileInfo(err.path).fileName() + " (cannot be read)", QString());
            strategy_->setItemData(strategy_->count() - 1, err.message, kBrokenScriptRole);
        }
        const int idx = strategy_->findData(keep);
        strategy_->setCurrentIndex(idx >= 0 ? idx : 0);
    }
    if (strategy_->currentData().toString() != keep || param_widgets_.empty()) rebuild_param_form();
    apply_caps();
}

void MainWindow::watch_scripts() {
    if (!script_watch_) {
        script_watch_ = new QFileSystemWatcher(this);
        auto* debounce = new QTimer(this);  // an editor's save is several events
        debounce->setSingleShot(true);
        debounce->setInterval(300);
        connect(debounce, &QTimer::timeout, this, &MainWindow::reload_strategies);
        connect(script_watch_, &QFileSystemWatcher::directoryChanged, debounce,
                qOverload<>(&QTimer::start));
        connect(script_watch_, &QFileSystemWatcher::fileChanged, debounce,
                qOverload<>(&QTimer::start));
    }
    QStringList paths;
    for (const QString& d : app::PluginManager::default_dirs()) {
        if (!QFileInfo(d).isDir()) continue;
        paths << d;
        for (const QString& f : QDir(d).entryList({"*.py"}, QDir::Files))
            paths << QDir(d).absoluteFilePath(f);
    }
    const QStringList old = script_watch_->files() + script_watch_->directories();
    if (!old.isEmpty()) script_watch_->removePaths(old);
    if (!paths.isEmpty()) script_watch_->addPaths(paths);
}

void MainWindow::reload_strategies() {
    if (run_requested_ || host_->running()) {
        reload_pending_ = true;  // after the run: it may be creating its strategy
        return;
    }
    reload_pending_ = false;
    const size_t before = plugins_.strategies().size();
    plugins_.rescan_scripts();
    fill_strategy_box();
    watch_scripts();
    int broken = 0;
    for (const auto& err : plugins_.errors()) broken += err.path.endsWith(".py") ? 1 : 0;
    statusBar()->showMessage(
        QString("strategies reloaded: %1 (%2 before)%3")
            .arg(plugins_.strategies().size())
            .arg(before)
            .arg(broken ? QString(", %1 script(s) cannot be read").arg(broken) : QString()),
        8000);
    emit strategiesReloaded();
}

}  // namespace rs::gui
