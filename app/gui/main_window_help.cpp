// What helps a new user find their way: View toggles for every pane and a
// layout reset, Help with the user guide and the shortcut list, tooltips on
// the tree's toolbar, a hint on the empty canvas, and the run's elapsed time
// and time left in the status bar.
#include <QAction>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QSettings>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTimer>
#include <QToolBar>
#include <QUrl>
#include <QVBoxLayout>
#include <algorithm>

#include "core/resources.h"
#include "gui/duration_text.h"
#include "gui/main_window.h"
#include "widgets/tree_view.h"

namespace rs::gui {

namespace {

QMenu* menu_named(QMenuBar* bar, const QString& title) {
    for (QAction* a : bar->actions())
        if (a->menu() && a->text() == title) return a->menu();
    return nullptr;
}

// Keys the views handle themselves (not menu actions).
constexpr const char* kViewKeys[][2] = {
    {"Tree: ↑ ↓ ← →", "parent, child on the path, previous / next sibling"},
    {"Tree: Home", "the prompt (root)"},
    {"Tree: Space or C", "collapse / expand the selected subtree"},
    {"Tree: G", "group identical sibling steps"},
    {"Tree: wheel", "zoom (Fit or F: the whole tree again)"},
    {"Tokens: right click", "alternatives: branch from there, logit lens"},
};

}  // namespace

void MainWindow::build_conveniences() {
    default_layout_ = saveState();  // before the saved layout is restored
    // A first start (no saved layout): once shown, the tree and the Setup
    // pane get the room, the right-hand panes a quarter of the window.
    if (!QSettings().contains("windowState"))
        QTimer::singleShot(0, this, [this] { give_the_tree_room(); });

    // View: every pane, and the layout the app starts with.
    if (QMenu* view = menu_named(menuBar(), "&View")) {
        view->addSeparator();
        QMenu* panes = view->addMenu("Panes");
        panes->setObjectName("panesMenu");
        auto docks = findChildren<QDockWidget*>();
        std::sort(docks.begin(), docks.end(), [](QDockWidget* a, QDockWidget* b) {
            return a->windowTitle() < b->windowTitle();
        });
        for (QDockWidget* d : docks) panes->addAction(d->toggleViewAction());
        view->addAction("Reset layout", this, [this] {
            restoreState(default_layout_);
            for (QDockWidget* d : findChildren<QDockWidget*>()) d->show();
            give_the_tree_room();
            statusBar()->showMessage("layout reset", 3000);
        });
    }

    // Help: the user guide, the shortcuts.
    if (QMenu* help = menu_named(menuBar(), "&Help")) {
        QAction* first = help->actions().value(0);
        QAction* guide = new QAction("User guide", help);
        guide->setShortcut(QKeySequence::HelpContents);
        connect(guide, &QAction::triggered, this, &MainWindow::show_user_guide);
        QAction* keys = new QAction("Keyboard shortcuts", help);
        connect(keys, &QAction::triggered, this, &MainWindow::show_shortcuts);
        help->insertAction(first, guide);
        help->insertAction(first, keys);
        help->insertSeparator(first);
    }

    // The tree's toolbar says what each control does.
    if (auto* bar = centralWidget()->findChild<QToolBar*>()) {
        for (QAction* a : bar->actions()) {
            if (a->text() == "Fit") a->setToolTip("Fit the whole tree into the view (F)");
            if (a->text() == "Legend") a->setToolTip("Show the colour scale and the shapes' keys");
        }
        for (QWidget* w : bar->findChildren<QWidget*>()) {
            if (auto* box = qobject_cast<QComboBox*>(w))
                box->setToolTip(
                    "Colour the nodes by the mean entropy of their step, or by the "
                    "strategy's score (the legend shows the scale)");
            if (auto* edit = qobject_cast<QLineEdit*>(w))
                edit->setToolTip("Find a step containing this text; Enter finds the next");
        }
    }

    // The empty canvas says how to begin.
    tree_->set_placeholder(
        "Choose a task and a strategy in Setup, then Run (Ctrl+R).\n"
        "The tree grows here as the search runs; stored runs open from Runs.\n"
        "Help > User guide (F1) explains every pane.");

    status_elapsed_ = new QLabel(this);
    status_elapsed_->setObjectName("elapsedStatus");
    statusBar()->addPermanentWidget(status_elapsed_);
}

void MainWindow::give_the_tree_room() {
    if (auto* node_dock = findChild<QDockWidget*>("nodeDock"))
        resizeDocks({node_dock}, {std::max(320, width() / 4)}, Qt::Horizontal);
}

void MainWindow::show_user_guide() {
    const QString path = QString::fromStdString(app::user_guide_path());
    auto* dlg = new QDialog(this);
    dlg->setObjectName("userGuide");
    dlg->setAttribute(Qt::WA_DeleteOnClose);
    dlg->setWindowTitle("Reasonscope user guide");
    dlg->resize(900, 700);
    auto* lay = new QVBoxLayout(dlg);
    auto* text = new QTextBrowser(dlg);
    text->setOpenExternalLinks(true);
    if (path.isEmpty())
        text->setPlainText("The user guide (docs/user-guide.md) is not installed with this build.");
    else
        text->setSource(QUrl::fromLocalFile(path), QTextDocument::MarkdownResource);
    lay->addWidget(text);
    auto* close = new QDialogButtonBox(QDialogButtonBox::Close, dlg);
    connect(close, &QDialogButtonBox::rejected, dlg, &QDialog::close);
    lay->addWidget(close);
    dlg->show();
}

void MainWindow::show_shortcuts() {
    auto* dlg = new QDialog(this);
    dlg->setObjectName("shortcuts");
    dlg->setAttribute(Qt::WA_DeleteOnClose);
    dlg->setWindowTitle("Keyboard shortcuts");
    dlg->resize(560, 520);
    auto* lay = new QVBoxLayout(dlg);
    auto* table = new QTableWidget(0, 2, dlg);
    table->setObjectName("shortcutTable");
    table->setHorizontalHeaderLabels({"keys", "does"});
    table->verticalHeader()->hide();
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    const auto add = [table](const QString& keys, const QString& what) {
        const int r = table->rowCount();
        table->insertRow(r);
        table->setItem(r, 0, new QTableWidgetItem(keys));
        table->setItem(r, 1, new QTableWidgetItem(what));
    };
    // Every menu action with a shortcut, as the menus name it.
    for (QAction* top : menuBar()->actions()) {
        if (!top->menu()) continue;
        const QString menu = QString(top->text()).remove('&');
        const QList<QAction*> items = top->menu()->actions();  // one list: begin and end of it
        std::vector<QAction*> todo(items.begin(), items.end());
        while (!todo.empty()) {
            QAction* a = todo.front();
            todo.erase(todo.begin());
            if (a->menu()) {
                for (QAction* s : a->menu()->actions()) todo.push_back(s);
                continue;
            }
            if (!a->shortcut().isEmpty())
                add(a->shortcut().toString(QKeySequence::NativeText),
                    menu + " > " + QString(a->text()).remove('&'));
        }
    }
    for (const auto& [keys, what] : kViewKeys) add(QString::fromUtf8(keys), QString(what));
    table->resizeColumnsToContents();
    table->horizontalHeader()->setStretchLastSection(true);
    lay->addWidget(table);
    auto* close = new QDialogButtonBox(QDialogButtonBox::Close, dlg);
    connect(close, &QDialogButtonBox::rejected, dlg, &QDialog::close);
    lay->addWidget(close);
    dlg->show();
}

// Elapsed time while a run goes, and the time left when a budget bounds it
// (seconds: exactly; tokens or passes: at the run's rate so far).
void MainWindow::show_elapsed() {
    if (!status_elapsed_) return;
    if (!host_->running() || live_.metrics().empty()) {
        status_elapsed_->clear();
        return;
    }
    const RunMetrics& m = live_.metrics().back();
    QString s = QString("elapsed %1").arg(duration_text(m.wall_seconds));
    double left = -1;
    if (max_seconds_ && max_seconds_->value() > 0)
        left = std::max(0.0, max_seconds_->value() - m.wall_seconds);
    const auto by_rate = [&](double done, double budget) {
        if (budget <= 0 || done <= 0 || m.wall_seconds <= 0) return;
        const double est = (budget - done) * m.wall_seconds / done;
        left = left < 0 ? std::max(0.0, est) : std::min(left, std::max(0.0, est));
    };
    if (max_tokens_) by_rate(static_cast<double>(m.tokens_generated), max_tokens_->value());
    if (max_passes_) by_rate(static_cast<double>(m.forward_passes), max_passes_->value());
    if (left >= 0) s += QString(", at most %1 left (budget)").arg(duration_text(left));
    status_elapsed_->setText(s);
}

}  // namespace rs::gui
