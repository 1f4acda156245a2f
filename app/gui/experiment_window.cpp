#include "gui/experiment_window.h"

#include <QApplication>
#include <QComboBox>
#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStyle>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <map>

#include "core/resources.h"
#include "gui/duration_text.h"
#include "gui/engine_host.h"
#include "widgets/sort_arrows.h"
#include "widgets/sweep_plot.h"
#include "widgets/theme.h"

namespace rs::gui {

namespace {

constexpr int kSortRole = Qt::UserRole;
constexpr int kKeyRole = Qt::UserRole + 1;
constexpr int kIdRole = Qt::UserRole + 2;  // a strategy list item's id

enum Column {
    Strategy,
    Budget,
    Problems,
    Accuracy,
    Coverage,
    Tokens,
    Passes,
    Seconds,
    Runs,
    Count
};

enum SignalColumn { Signal, Auroc, Interval, Within, Right, Wrong, SignalCount };

QString budget_text(const app::SweepPoint& p) {
    return QString("%1 = %2").arg(QString::fromStdString(p.param)).arg(p.budget);
}

// A check box's outline the style draws in the base colour on dark
// palettes: outlined again in faded text, so unchecked boxes show on both themes.
class CheckOutlineDelegate : public QStyledItemDelegate {
  public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* p, const QStyleOptionViewItem& option,
               const QModelIndex& index) const override {
        QStyledItemDelegate::paint(p, option, index);
        QStyleOptionViewItem opt = option;
        initStyleOption(&opt, index);
        if (!(opt.features & QStyleOptionViewItem::HasCheckIndicator)) return;
        const QWidget* w = option.widget;
        const QStyle* style = w ? w->style() : QApplication::style();
        const QRect box = style->subElementRect(QStyle::SE_ItemViewItemCheckIndicator, &opt, w);
        const QPalette& pal = option.palette;
        const bool on = opt.state & QStyle::State_Enabled;
        p->save();
        p->setRenderHint(QPainter::Antialiasing, false);
        p->setPen(
            views::faded(pal.color(QPalette::Text), pal.color(QPalette::Base), on ? 0.45 : 0.75));
        p->setBrush(Qt::NoBrush);
        const int side = std::min(box.width(), box.height()) - 2;
        p->drawRect(QRect(0, 0, side, side).translated(box.center() - QPoint(side / 2, side / 2)));
        p->restore();
    }
};

}  // namespace

ExperimentWindow::ExperimentWindow(const app::PluginManager* plugins, EngineHost* host,
                                   QWidget* parent)
    : QWidget(parent, Qt::Window), plugins_(plugins), host_(host) {
    setObjectName("experimentWindow");
    setWindowTitle("Experiments — Reasonscope");
    resize(1280, 720);
    qRegisterMetaType<rs::app::SweepSettings>();
    qRegisterMetaType<rs::app::SweepProgress>();
    qRegisterMetaType<rs::app::SweepPoint>();
    qRegisterMetaType<rs::app::SweepResult>();

    auto* outer = new QHBoxLayout(this);
    // Setup: suite, problems, strategies, budgets; Run, Cancel, progress.
    auto* setup = new QWidget(this);
    setup->setObjectName("sweepSetup");
    setup->setMinimumWidth(300);
    setup->setMaximumWidth(360);
    auto* sv = new QVBoxLayout(setup);
    sv->setContentsMargins(0, 0, 0, 0);
    auto* form = new QFormLayout;
    suite_ = new QComboBox(setup);
    suite_->setObjectName("sweepSuite");
    suite_->addItems({"easy", "medium", "hard"});
    auto* open_suite = new QPushButton("…", setup);
    open_suite->setToolTip("Open suite file… (JSONL: one task per line)");
    open_suite->setMaximumWidth(30);
    auto* srow = new QHBoxLayout;
    srow->addWidget(suite_, 1);
    srow->addWidget(open_suite);
    form->addRow("suite", srow);
    suite_info_ = new QLabel(setup);
    suite_info_->setObjectName("sweepSuiteInfo");
    suite_info_->setWordWrap(true);
    form->addRow(QString(), suite_info_);
    limit_ = new QSpinBox(setup);
    limit_->setObjectName("sweepLimit");
    limit_->setRange(0, 1 << 20);
    limit_->setValue(5);
    limit_->setSpecialValueText("all");
    limit_->setToolTip("The suite's first N problems (all: every problem)");
    form->addRow("problems", limit_);
    budgets_ = new QLineEdit("1,2,4,8", setup);
    budgets_->setObjectName("sweepBudgets");
    budgets_->setToolTip(
        "Values of each strategy's sample-count parameter (n, width, particles or "
        "iterations, whichever it has), comma-separated");
    form->addRow("budgets", budgets_);
    sets_ = new QLineEdit(setup);
    sets_->setObjectName("sweepParameters");
    sets_->setPlaceholderText("e.g. temperature=0.8");
    sets_->setToolTip("name=value, comma-separated: set for every strategy that has the parameter");
    form->addRow("parameters", sets_);
    seed_ = new QSpinBox(setup);
    seed_->setRange(0, 2147483647);
    seed_->setValue(42);
    form->addRow("seed", seed_);
    max_tokens_ = new QSpinBox(setup);
    max_tokens_->setRange(0, 1 << 24);
    max_tokens_->setSpecialValueText("none");
    max_tokens_->setToolTip("Generated tokens per run at most (none: no limit)");
    form->addRow("max tokens", max_tokens_);
    sv->addLayout(form);
    auto* slabel = new QLabel("strategies", setup);
    sv->addWidget(slabel);
    strategies_ = new QListWidget(setup);
    strategies_->setObjectName("sweepStrategies");
    strategies_->setItemDelegate(new CheckOutlineDelegate(strategies_));
    strategies_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    strategies_->setTextElideMode(Qt::ElideRight);
    strategies_->setToolTip("The strategies to sweep; greyed out: nothing to sweep");
    sv->addWidget(strategies_, 1);
    auto* brow = new QHBoxLayout;
    run_ = new QPushButton("Run sweep", setup);
    run_->setObjectName("sweepRun");
    cancel_ = new QPushButton("Cancel", setup);
    cancel_->setObjectName("sweepCancel");
    cancel_->setEnabled(false);
    brow->addWidget(run_);
    brow->addWidget(cancel_);
    sv->addLayout(brow);
    progress_ = new QProgressBar(setup);
    progress_->setObjectName("sweepProgress");
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat("%v / %m runs");
    sv->addWidget(progress_);
    status_ = new QLabel("Pick a suite, strategies and budgets, then Run sweep.", setup);
    status_->setObjectName("sweepStatus");
    status_->setWordWrap(true);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    status_->setMinimumHeight(status_->fontMetrics().lineSpacing() * 4);
    status_->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    sv->addWidget(status_);
    outer->addWidget(setup);

    // Results: the table over the plots.
    auto* split = new QSplitter(Qt::Vertical, this);
    table_model_ = new QStandardItemModel(0, Count, this);
    table_model_->setHorizontalHeaderLabels({"strategy", "budget", "problems", "accuracy",
                                             "coverage", "tokens", "passes", "seconds", "runs"});
    for (int c : {Tokens, Passes, Seconds})
        table_model_->horizontalHeaderItem(c)->setToolTip("mean per problem");
    table_model_->horizontalHeaderItem(Coverage)->setToolTip(
        "problems with a right answer anywhere in the tree");
    table_proxy_ = new QSortFilterProxyModel(this);
    table_proxy_->setSourceModel(table_model_);
    table_proxy_->setSortRole(kSortRole);
    table_ = new QTableView(split);
    table_->setObjectName("sweepTable");
    table_->setModel(table_proxy_);
    table_->setSortingEnabled(true);
    views::use_sort_arrows(table_->horizontalHeader());
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    table_->horizontalHeader()->setSectionResizeMode(Strategy, QHeaderView::ResizeToContents);
    table_->setToolTip("Double-click a row: its runs");
    connect(table_, &QTableView::doubleClicked, this,
            [this](const QModelIndex& i) { open_point(i.data(kKeyRole).toInt()); });
    auto* plots = new QWidget(split);
    auto* pv = new QVBoxLayout(plots);
    pv->setContentsMargins(0, 0, 0, 0);
    auto* prow = new QHBoxLayout;
    prow->addWidget(new QLabel("against", plots));
    x_axis_ = new QComboBox(plots);
    x_axis_->setObjectName("sweepXAxis");
    x_axis_->addItems({"mean tokens", "mean forward passes", "mean seconds"});
    prow->addWidget(x_axis_);
    auto* hint = new QLabel("hover a point: its values · click it: its runs", plots);
    hint->setEnabled(false);  // a hint, in the theme's quiet text colour
    prow->addWidget(hint);
    prow->addStretch(1);
    pv->addLayout(prow);
    auto* prow2 = new QHBoxLayout;
    accuracy_plot_ = new views::SweepPlot(plots);
    accuracy_plot_->setObjectName("accuracyPlot");
    coverage_plot_ = new views::SweepPlot(plots);
    coverage_plot_->setObjectName("coveragePlot");
    prow2->addWidget(accuracy_plot_);
    prow2->addWidget(coverage_plot_);
    pv->addLayout(prow2, 1);
    // Signals: which one tells a right trace from a wrong one.
    auto* signals_box = new QWidget(split);
    signals_box->setObjectName("sweepSignals");
    auto* gv = new QVBoxLayout(signals_box);
    gv->setContentsMargins(0, 0, 0, 0);
    auto* grow = new QHBoxLayout;
    grow->addWidget(new QLabel("signal AUROCs over the traces of", signals_box));
    signals_scope_ = new QComboBox(signals_box);
    signals_scope_->setObjectName("sweepSignalsScope");
    signals_scope_->addItem("all strategies", QString());
    grow->addWidget(signals_scope_);
    grow->addStretch(1);
    gv->addLayout(grow);
    signals_info_ = new QLabel(signals_box);
    signals_info_->setObjectName("sweepSignalsInfo");
    signals_info_->setWordWrap(true);
    signals_info_->setEnabled(false);  // an explanation, in the quiet text colour
    gv->addWidget(signals_info_);
    signals_model_ = new QStandardItemModel(0, SignalCount, this);
    signals_model_->setHorizontalHeaderLabels(
        {"signal", "AUROC", "95% interval", "within problem", "right traces", "wrong traces"});
    signals_model_->horizontalHeaderItem(Auroc)->setToolTip(
        "how often a right trace scores above a wrong one (0.5: no better than chance)");
    signals_model_->horizontalHeaderItem(Interval)->setToolTip(
        "95% bootstrap interval over problems (when the sweep ends)");
    signals_model_->horizontalHeaderItem(Within)->setToolTip(
        "the mean AUROC inside each problem with both right and wrong traces: what choosing "
        "among one problem's traces needs");
    auto* signals_proxy = new QSortFilterProxyModel(this);
    signals_proxy->setSourceModel(signals_model_);
    signals_proxy->setSortRole(kSortRole);
    signals_table_ = new QTableView(signals_box);
    signals_table_->setObjectName("sweepSignalsTable");
    signals_table_->setModel(signals_proxy);
    signals_table_->setSortingEnabled(true);
    views::use_sort_arrows(signals_table_->horizontalHeader());
    signals_table_->sortByColumn(Auroc, Qt::DescendingOrder);
    signals_table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    signals_table_->setSelectionMode(QAbstractItemView::SingleSelection);
    signals_table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    signals_table_->verticalHeader()->hide();
    signals_table_->verticalHeader()->setDefaultSectionSize(
        signals_table_->fontMetrics().lineSpacing() + 6);
    signals_table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    signals_table_->horizontalHeader()->setSectionResizeMode(Signal, QHeaderView::ResizeToContents);
    gv->addWidget(signals_table_, 1);

    split->addWidget(table_);
    split->addWidget(signals_box);
    split->addWidget(plots);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    split->setStretchFactor(2, 2);
    split->setSizes({240, 240, 360});  // scaled to the height there is
    outer->addWidget(split, 1);
    update_plots();
    update_signals();

    clock_ = new QTimer(this);
    clock_->setInterval(1000);
    connect(clock_, &QTimer::timeout, this, &ExperimentWindow::update_time_left);
    connect(run_, &QPushButton::clicked, this, &ExperimentWindow::start);
    connect(cancel_, &QPushButton::clicked, this, &ExperimentWindow::cancel);
    connect(x_axis_, &QComboBox::currentIndexChanged, this, &ExperimentWindow::update_plots);
    connect(signals_scope_, &QComboBox::currentIndexChanged, this,
            &ExperimentWindow::update_signals);
    connect(accuracy_plot_, &views::SweepPlot::pointClicked, this, &ExperimentWindow::open_point);
    connect(coverage_plot_, &views::SweepPlot::pointClicked, this, &ExperimentWindow::open_point);
    connect(suite_, &QComboBox::currentIndexChanged, this, [this] {
        set_suite(suite_->currentData().toString().isEmpty() ? suite_->currentText()
                                                             : suite_->currentData().toString());
    });
    connect(open_suite, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, "Open task suite", QString(),
                                                       "Task suites (*.jsonl);;All files (*)");
        if (!f.isEmpty()) set_suite(f);
    });

    connect(this, &ExperimentWindow::requestSweep, host_, &EngineHost::run_sweep);
    connect(host_, &EngineHost::sweepProgress, this, &ExperimentWindow::on_progress);
    connect(host_, &EngineHost::sweepPoint, this, &ExperimentWindow::on_point);
    connect(host_, &EngineHost::sweepFinished, this,
            [this](const app::SweepResult& r) { on_finished(r, {}); });
    connect(host_, &EngineHost::sweepFailed, this,
            [this](const QString& m, const app::SweepResult& r) { on_finished(r, m); });

    reload_strategies();
    set_suite("easy");
}

void ExperimentWindow::reload_strategies() {
    QStringList checked;
    for (int i = 0; i < strategies_->count(); ++i)
        if (strategies_->item(i)->checkState() == Qt::Checked)
            checked << strategies_->item(i)->data(kIdRole).toString();
    if (strategies_->count() == 0) checked = {"self-consistency", "best-of-n"};
    strategies_->clear();
    for (const auto& e : plugins_->strategies()) {
        auto* it = new QListWidgetItem(QString::fromStdString(e.info.name), strategies_);
        it->setData(kIdRole, QString::fromStdString(e.info.id));
        try {
            const std::string param = app::sweep_budget_param(e.info, {});
            it->setText(it->text() + QString("  (%1)").arg(QString::fromStdString(param)));
            it->setToolTip(QString::fromStdString(e.info.description));
            it->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable);
            it->setCheckState(checked.contains(it->data(kIdRole).toString()) ? Qt::Checked
                                                                             : Qt::Unchecked);
        } catch (const std::exception&) {
            it->setFlags(Qt::ItemIsUserCheckable);  // listed, but not to be checked
            it->setCheckState(Qt::Unchecked);
            it->setToolTip(
                "no sample-count parameter to sweep (n, width, particles, "
                "iterations, traces, samples or budget)");
        }
    }
}

void ExperimentWindow::set_suite(const QString& name_or_path) {
    const bool file = name_or_path.endsWith(".jsonl") || QFileInfo(name_or_path).isAbsolute();
    if (file) {
        int idx = suite_->findData(name_or_path);
        if (idx < 0) {
            suite_->addItem(QFileInfo(name_or_path).fileName(), name_or_path);
            idx = suite_->count() - 1;
            suite_->setItemData(idx, name_or_path, Qt::ToolTipRole);
        }
        const QSignalBlocker block(suite_);
        suite_->setCurrentIndex(idx);
    } else {
        const QSignalBlocker block(suite_);
        suite_->setCurrentText(name_or_path);
    }
    try {
        const auto tasks = load_suite(app::resolve_suite_path(name_or_path.toStdString()));
        suite_info_->setText(QString("%1 problems").arg(tasks.size()));
        suite_info_->setStyleSheet({});
    } catch (const std::exception& e) {
        suite_info_->setText(QString::fromStdString(e.what()));
        suite_info_->setStyleSheet("color: #d04040");
    }
}

bool ExperimentWindow::set_strategies(const QStringList& ids) {
    int found = 0;
    for (int i = 0; i < strategies_->count(); ++i) {
        QListWidgetItem* it = strategies_->item(i);
        const bool on = ids.contains(it->data(kIdRole).toString());
        if (on && !(it->flags() & Qt::ItemIsEnabled)) return false;
        it->setCheckState(on ? Qt::Checked : Qt::Unchecked);
        found += on ? 1 : 0;
    }
    return found == ids.size();
}

void ExperimentWindow::set_budgets(const QString& text) {
    budgets_->setText(text);
}

void ExperimentWindow::set_limit(int problems) {
    limit_->setValue(problems);
}

void ExperimentWindow::set_parameters(const QString& text) {
    sets_->setText(text);
}

QString ExperimentWindow::runs_filter(const app::SweepPoint& p) const {
    // The runs browser lists a run's tags sorted, each as " #tag".
    std::vector<std::string> tags = {tag_.toStdString(), "strategy:" + p.strategy,
                                     "budget:" + std::to_string(p.budget)};
    std::sort(tags.begin(), tags.end());
    QStringList parts;
    for (const auto& t : tags) parts << "#" + QString::fromStdString(t);
    return parts.join(' ');
}

void ExperimentWindow::start() {
    if (sweeping_) return;
    app::SweepSettings s;
    QString error;
    try {
        const QString data = suite_->currentData().toString();
        s.suite =
            app::resolve_suite_path((data.isEmpty() ? suite_->currentText() : data).toStdString());
        s.tasks = load_suite(s.suite);
        if (limit_->value() > 0 && static_cast<size_t>(limit_->value()) < s.tasks.size())
            s.tasks.resize(static_cast<size_t>(limit_->value()));
        if (s.tasks.empty()) error = "the suite has no problems";
    } catch (const std::exception& e) {
        error = QString::fromStdString(e.what());
    }
    for (int i = 0; i < strategies_->count(); ++i)
        if (strategies_->item(i)->checkState() == Qt::Checked)
            s.strategies.push_back(strategies_->item(i)->data(kIdRole).toString().toStdString());
    if (error.isEmpty() && s.strategies.empty()) error = "check at least one strategy";
    for (const QString& b : budgets_->text().split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = b.trimmed().toInt(&ok);
        if (!ok || v < 1) {
            if (error.isEmpty())
                error =
                    QString("budgets: '%1' is not a whole number of at least 1").arg(b.trimmed());
            continue;
        }
        s.budgets.push_back(v);
    }
    if (error.isEmpty() && s.budgets.empty()) error = "give budgets, e.g. 1,2,4,8";
    for (const QString& kv : sets_->text().split(',', Qt::SkipEmptyParts)) {
        const qsizetype eq = kv.indexOf('=');
        if (eq <= 0) {
            if (error.isEmpty())
                error = QString("parameters: '%1' is not name=value").arg(kv.trimmed());
            continue;
        }
        s.sets.emplace_back(kv.left(eq).trimmed().toStdString(),
                            kv.mid(eq + 1).trimmed().toStdString());
    }
    if (!error.isEmpty()) {
        status_->setText("Cannot start: " + error);
        return;
    }
    s.seed = static_cast<uint64_t>(seed_->value());
    s.config.max_tokens = max_tokens_->value();
    // A fresh tag, even for two sweeps in one second.
    QString tag = QString::fromStdString(app::new_sweep_tag());
    if (tag_.startsWith(tag)) tag += QString(".%1").arg(QDateTime::currentMSecsSinceEpoch() % 1000);
    s.tag = tag.toStdString();
    tag_ = tag;
    points_.clear();
    table_model_->removeRows(0, table_model_->rowCount());
    update_plots();
    seed_used_ = s.seed;
    signals_final_ = false;
    final_ = {};
    {
        const QSignalBlocker block(signals_scope_);
        signals_scope_->clear();
        signals_scope_->addItem("all strategies", QString());
        for (const std::string& id : s.strategies)
            signals_scope_->addItem(QString::fromStdString(id), QString::fromStdString(id));
    }
    update_signals();
    progress_->setRange(0, static_cast<int>(s.tasks.size() * s.strategies.size() *
                                            std::max<size_t>(s.budgets.size(), 1)));
    progress_->setValue(0);
    status_->setText("starting…");
    set_running(true);
    emit requestSweep(s);
}

void ExperimentWindow::cancel() {
    if (!sweeping_) return;
    host_->cancel();
    status_->setText("cancelling: the run in progress ends, the points so far stay…");
}

void ExperimentWindow::set_running(bool on) {
    sweeping_ = on;
    run_->setEnabled(!on);
    cancel_->setEnabled(on);
    on ? clock_->start() : clock_->stop();
}

void ExperimentWindow::on_progress(const app::SweepProgress& p) {
    if (!sweeping_) return;
    last_ = p;
    since_report_.start();
    progress_->setRange(0, std::max(p.total, 1));
    progress_->setValue(p.done);
    update_time_left();
}

void ExperimentWindow::update_time_left() {
    if (!sweeping_ || !since_report_.isValid()) return;
    const double ago = static_cast<double>(since_report_.elapsed()) / 1000.0;
    QString text = QString("%1 of %2 runs · %3 elapsed")
                       .arg(last_.done)
                       .arg(last_.total)
                       .arg(duration_text(last_.elapsed + ago));
    if (last_.remaining >= 0)
        text +=
            QString(" · about %1 left").arg(duration_text(std::max(0.0, last_.remaining - ago)));
    else
        text += " · time left: after the first run";
    if (!last_.strategy.empty())
        text += QString("\nnow: %1 at budget %2 on %3")
                    .arg(QString::fromStdString(last_.strategy))
                    .arg(last_.budget)
                    .arg(QString::fromStdString(last_.task));
    status_->setText(text);
}

void ExperimentWindow::on_point(const app::SweepPoint& p) {
    if (!sweeping_) return;
    int key = -1;
    for (size_t i = 0; i < points_.size(); ++i)
        if (points_[i].strategy == p.strategy && points_[i].budget == p.budget)
            key = static_cast<int>(i);
    if (key < 0) {
        points_.push_back(p);
        key = static_cast<int>(points_.size()) - 1;
    } else {
        points_[static_cast<size_t>(key)] = p;
    }
    upsert_row(key);
    update_plots();
    update_signals();
}

void ExperimentWindow::on_finished(const app::SweepResult& r, const QString& error) {
    if (!sweeping_) return;
    set_running(false);
    // The result's points are the ones reported, complete.
    points_ = r.points;
    table_model_->removeRows(0, table_model_->rowCount());
    for (size_t i = 0; i < points_.size(); ++i) upsert_row(static_cast<int>(i));
    update_plots();
    final_ = r;
    final_.points.clear();  // the AUROCs are what is kept of it
    signals_final_ = true;
    update_signals();
    int runs = 0;
    for (const auto& p : points_) runs += p.problems();
    progress_->setValue(runs);
    if (!error.isEmpty())
        status_->setText(QString("Failed: %1\n%2 runs kept.").arg(error).arg(runs));
    else if (r.cancelled)
        status_->setText(
            QString("Cancelled after %1 runs (%2); the points so far are kept, a point cut "
                    "short is drawn hollow. Runs tagged %3.")
                .arg(runs)
                .arg(duration_text(r.seconds))
                .arg(tag_));
    else
        status_->setText(QString("Done: %1 runs in %2, tagged %3.\nClick a point or "
                                 "double-click a row for its runs.")
                             .arg(runs)
                             .arg(duration_text(r.seconds))
                             .arg(tag_));
    emit sweepEnded();
}

void ExperimentWindow::upsert_row(int key) {
    const app::SweepPoint& p = points_.at(static_cast<size_t>(key));
    int row = -1;
    for (int r = 0; r < table_model_->rowCount(); ++r)
        if (table_model_->item(r, 0)->data(kKeyRole).toInt() == key) row = r;
    if (row < 0) {
        row = table_model_->rowCount();
        QList<QStandardItem*> items;
        for (int c = 0; c < Count; ++c) items << new QStandardItem;
        table_model_->appendRow(items);
    }
    const auto set = [&](int col, const QString& text, const QVariant& sort) {
        QStandardItem* it = table_model_->item(row, col);
        it->setText(text);
        it->setData(sort, kSortRole);
        it->setData(key, kKeyRole);
        if (col != Strategy) it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    };
    set(Strategy, QString::fromStdString(p.strategy), QString::fromStdString(p.strategy));
    set(Budget, budget_text(p), p.budget);
    set(Problems,
        p.complete() ? QString::number(p.problems())
                     : QString("%1 of %2").arg(p.problems()).arg(p.planned),
        p.problems());
    set(Accuracy, QString::number(100 * p.accuracy(), 'f', 1) + "%", p.accuracy());
    set(Coverage, QString::number(100 * p.coverage(), 'f', 1) + "%", p.coverage());
    set(Tokens, QString::number(p.mean_tokens(), 'f', 0), p.mean_tokens());
    set(Passes, QString::number(p.mean_passes(), 'f', 0), p.mean_passes());
    set(Seconds, QString::number(p.mean_seconds(), 'f', 2), p.mean_seconds());
    const auto ids = p.run_ids();
    set(Runs,
        ids.empty()       ? QString("—")
        : ids.size() == 1 ? QString("1 (%1)").arg(ids.front())
                          : QString("%1 (%2–%3)").arg(ids.size()).arg(ids.front()).arg(ids.back()),
        static_cast<int>(ids.size()));
    const QString tip = QString("runs tagged %1 · double-click: its runs").arg(runs_filter(p));
    for (int c = 0; c < Count; ++c) table_model_->item(row, c)->setToolTip(tip);
}

void ExperimentWindow::update_plots() {
    const int axis = x_axis_->currentIndex();
    const QString x_label = x_axis_->currentText() + " per problem";
    std::vector<views::SweepPlotSeries> acc, cov;
    std::vector<std::string> order;
    for (const auto& p : points_)
        if (std::find(order.begin(), order.end(), p.strategy) == order.end())
            order.push_back(p.strategy);
    for (const std::string& id : order) {
        views::SweepPlotSeries a, c;
        a.name = c.name = QString::fromStdString(id);
        std::vector<int> keys;
        for (size_t i = 0; i < points_.size(); ++i)
            if (points_[i].strategy == id) keys.push_back(static_cast<int>(i));
        std::sort(keys.begin(), keys.end(), [this](int l, int r) {
            return points_[static_cast<size_t>(l)].budget < points_[static_cast<size_t>(r)].budget;
        });
        for (int k : keys) {
            const app::SweepPoint& p = points_[static_cast<size_t>(k)];
            const double x = axis == 0   ? p.mean_tokens()
                             : axis == 1 ? p.mean_passes()
                                         : p.mean_seconds();
            const QString tip =
                QString(
                    "%1, %2\naccuracy %3% · coverage %4%\n%5 tokens · %6 passes · %7 s per "
                    "problem\n%8 problems%9")
                    .arg(QString::fromStdString(p.strategy), budget_text(p))
                    .arg(100 * p.accuracy(), 0, 'f', 1)
                    .arg(100 * p.coverage(), 0, 'f', 1)
                    .arg(p.mean_tokens(), 0, 'f', 0)
                    .arg(p.mean_passes(), 0, 'f', 0)
                    .arg(p.mean_seconds(), 0, 'f', 2)
                    .arg(p.problems())
                    .arg(p.complete() ? QString() : QString(" of %1 (cut short)").arg(p.planned));
            a.points.push_back({x, p.accuracy(), k, tip, budget_text(p), !p.complete()});
            c.points.push_back({x, p.coverage(), k, tip, budget_text(p), !p.complete()});
        }
        acc.push_back(std::move(a));
        cov.push_back(std::move(c));
    }
    accuracy_plot_->set_labels("Accuracy", x_label, "accuracy");
    accuracy_plot_->set_series(std::move(acc));
    coverage_plot_->set_labels("Coverage", x_label, "coverage (a right answer in the tree)");
    coverage_plot_->set_series(std::move(cov));
}

bool ExperimentWindow::set_signals_scope(const QString& strategy) {
    const int i = signals_scope_->findData(strategy);
    if (i < 0) return false;
    signals_scope_->setCurrentIndex(i);
    return true;
}

void ExperimentWindow::update_signals() {
    const std::string scope = signals_scope_->currentData().toString().toStdString();
    const std::vector<app::TraceSignals> traces = app::sweep_traces(points_, scope);
    if (signals_final_) {
        const auto it = final_.strategy_aurocs.find(scope);
        aurocs_ = scope.empty()                        ? final_.aurocs
                  : it != final_.strategy_aurocs.end() ? it->second
                                                       : std::vector<app::SignalAuroc>{};
    } else {
        // As the runs finish: the estimates without the bootstrap, cheap.
        aurocs_ = app::sweep_signal_aurocs(points_, 0, seed_used_, scope);
    }
    std::map<std::string, QString> what;
    for (const auto& [name, text] : app::signal_names()) what[name] = QString::fromStdString(text);
    signals_model_->removeRows(0, signals_model_->rowCount());
    for (const app::SignalAuroc& a : aurocs_) {
        QList<QStandardItem*> items;
        const auto add = [&](const QString& text, const QVariant& sort) {
            auto* it = new QStandardItem(text);
            it->setData(sort, kSortRole);
            if (!items.empty()) it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            items << it;
        };
        const QString name = QString::fromStdString(a.signal);
        add(name, name);
        add(QString::number(a.auroc, 'f', 3), a.auroc);
        if (signals_final_)
            add(QString("[%1, %2]").arg(a.lo, 0, 'f', 3).arg(a.hi, 0, 'f', 3), a.lo);
        else
            add("—", a.lo);
        add(a.within_problems ? QString::number(a.within, 'f', 3) : QString("—"), a.within);
        add(QString::number(a.positives), a.positives);
        add(QString::number(a.negatives), a.negatives);
        const auto w = what.find(a.signal);
        const QString tip = w != what.end() ? w->second : name;
        for (QStandardItem* it : items) it->setToolTip(tip);
        signals_model_->appendRow(items);
    }
    int right = 0;
    for (const app::TraceSignals& t : traces) right += t.correct ? 1 : 0;
    const int mixed = aurocs_.empty() ? 0 : aurocs_.front().within_problems;
    QString text =
        "AUROC: how well a signal's value tells a right trace from a wrong one (1: always, "
        "0.5: no better than chance, below 0.5: the wrong way round).";
    if (traces.empty())
        text += " The finished traces of the sweep's runs come here as they run.";
    else
        text += QString(
                    " %1 finished traces (%2 right, %3 wrong); within problem: inside the %4 "
                    "problem%5 with both right and wrong traces; %6.")
                    .arg(traces.size())
                    .arg(right)
                    .arg(static_cast<int>(traces.size()) - right)
                    .arg(mixed)
                    .arg(mixed == 1 ? "" : "s")
                    .arg(signals_final_ ? QString("95% interval: bootstrap over problems, %1 "
                                                  "resamples")
                                              .arg(app::kSweepBootstrap)
                                        : QString("the 95% interval when the sweep ends"));
    signals_info_->setText(text);
}

void ExperimentWindow::open_point(int key) {
    if (key < 0 || static_cast<size_t>(key) >= points_.size()) return;
    for (int r = 0; r < table_proxy_->rowCount(); ++r)
        if (table_proxy_->index(r, 0).data(kKeyRole).toInt() == key) table_->selectRow(r);
    const app::SweepPoint& p = points_[static_cast<size_t>(key)];
    const auto ids = p.run_ids();
    if (ids.empty()) return;
    emit openRuns(runs_filter(p), ids.front());
}

}  // namespace rs::gui
