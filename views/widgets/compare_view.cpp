#include "widgets/compare_view.h"

#include <QCollator>
#include <QEvent>
#include <QFrame>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScrollBar>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableWidget>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextDocument>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "models/run_model.h"
#include "reasonscope/run_export.h"
#include "widgets/sort_arrows.h"
#include "widgets/theme.h"
#include "widgets/tree_view.h"

namespace rs::views {

namespace {

// Digits after the point for a value of this size: three significant
// digits up to 100, whole numbers beyond.
int decimals_for(double v) {
    v = std::fabs(v);
    return v < 10 ? 2 : v < 100 ? 1 : 0;
}

QString grouped(double v, int decimals) {
    QString s = QString::number(std::fabs(v), 'f', decimals);
    const qsizetype point = s.indexOf('.');
    for (qsizetype i = (point < 0 ? s.size() : point) - 3; i > 0; i -= 3) s.insert(i, ',');
    return v < 0 ? "-" + s : s;
}

QString with_unit(const QString& number, MetricUnit unit) {
    switch (unit) {
        case MetricUnit::Seconds:
            return number + " s";
        case MetricUnit::Rate:
            return number + " tok/s";
        case MetricUnit::Nats:
            return number + " nats";
        default:
            return number;
    }
}

QString bytes_text(double v) {
    const double a = std::fabs(v);
    const char* sign = v < 0 ? "-" : "";
    if (a < 1024) return QString("%1%2 B").arg(sign).arg(a, 0, 'f', 0);
    if (a < 1024.0 * 1024) return QString("%1%2 KiB").arg(sign).arg(a / 1024, 0, 'f', 1);
    if (a < 1024.0 * 1024 * 1024)
        return QString("%1%2 MiB").arg(sign).arg(a / (1024.0 * 1024), 0, 'f', 1);
    return QString("%1%2 GiB").arg(sign).arg(a / (1024.0 * 1024 * 1024), 0, 'f', 2);
}

std::optional<double> as_number(const std::string& s) {
    if (s.empty() || s.size() > 64) return std::nullopt;
    std::string t;
    for (char c : s)
        if (c != ',' && c != ' ') t += c;  // "1,000" and " 42" are numbers too
    if (t.empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// Model text for a cell: control characters that would break the layout
// shown as symbols (a newline as ⏎).
QString visible(const std::string& piece, bool mark_spaces) {
    QString s = QString::fromStdString(piece);
    QString out;
    out.reserve(s.size());
    const bool blank = s.trimmed().isEmpty();
    for (QChar c : s) {
        if (c == '\n')
            out += QChar(0x23CE);
        else if (c == '\t')
            out += QChar(0x21E5);
        else if (c == ' ' && mark_spaces && blank)
            out += QChar(0x2423);  // ␣: a change that is only spaces stays visible
        else if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            out += QChar(0xFFFD);
        else
            out += c;
    }
    return out;
}

QString params_summary(const std::string& params, int max_chars) {
    const auto j = nlohmann::json::parse(params.empty() ? "{}" : params, nullptr, false);
    QString s;
    if (j.is_object()) {
        QStringList parts;
        for (const auto& [k, v] : j.items())
            parts << QString::fromStdString(k) + "=" +
                         QString::fromStdString(
                             v.is_string() ? v.get<std::string>()
                                           : v.dump(-1, ' ', false,
                                                    nlohmann::json::error_handler_t::replace));
        s = parts.join(", ");
    } else {
        s = QString::fromStdString(params);
    }
    if (s.size() > max_chars) s = s.left(max_chars - 1) + QChar(0x2026);
    return s;
}

QString correct_text(int correct) {
    return correct == 1 ? "right" : correct == 0 ? "wrong" : "unknown";
}

bool dark_theme(const QPalette& p) {
    return relative_luminance(p.color(QPalette::Base)) < 0.3;
}

// Green and red that read on the palette's window.
QColor good_colour(const QPalette& p) {
    return dark_theme(p) ? QColor(110, 220, 140) : QColor(26, 127, 55);
}
QColor bad_colour(const QPalette& p) {
    return dark_theme(p) ? QColor(255, 130, 120) : QColor(198, 40, 40);
}

struct Shape {
    int nodes = 0, leaves = 0, depth = 0;
    double mean_entropy = 0;
    bool has_tokens = false;
};

Shape shape_of(const StoredRun& r) {
    Shape s;
    s.nodes = r.tree.size();
    double h = 0;
    size_t n = 0;
    for (const Node& node : r.tree.nodes()) {
        s.leaves += node.children.empty() && node.parent >= 0;
        s.depth = std::max(s.depth, node.depth);
        for (const auto& t : node.tokens) {
            h += t.entropy;
            ++n;
        }
    }
    s.has_tokens = n > 0;
    s.mean_entropy = n ? h / static_cast<double>(n) : 0;
    if (s.nodes == 0) s.nodes = static_cast<int>(r.run.node_count);
    return s;
}

// A table cell that sorts by its number (UserRole) where it has one, else
// by its text with numbers in numeric order.
class SortItem : public QTableWidgetItem {
  public:
    explicit SortItem(const QString& text) : QTableWidgetItem(text) {}
    SortItem(const QString& text, double key) : QTableWidgetItem(text) {
        setData(Qt::UserRole, key);
        setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    bool operator<(const QTableWidgetItem& other) const override {
        const QVariant a = data(Qt::UserRole), b = other.data(Qt::UserRole);
        if (a.isValid() && b.isValid()) return a.toDouble() < b.toDouble();
        return answer_before(text().toStdString(), other.text().toStdString());
    }
};

QTableWidget* make_table(const QStringList& headers, QWidget* parent) {
    auto* t = new QTableWidget(0, static_cast<int>(headers.size()), parent);
    t->setHorizontalHeaderLabels(headers);
    t->verticalHeader()->hide();
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setWordWrap(false);
    t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 8);
    return t;
}

}  // namespace

QString format_metric(double v, MetricUnit unit) {
    switch (unit) {
        case MetricUnit::Count:
            return grouped(std::round(v), 0);
        case MetricUnit::Bytes:
            return bytes_text(v);
        case MetricUnit::Factor:
            return QString::number(v, 'f', 2);
        case MetricUnit::Nats:
            return with_unit(QString::number(v, 'f', 2), unit);
        default:
            return with_unit(grouped(v, decimals_for(v)), unit);
    }
}

QString format_metric_difference(double a, double b, MetricUnit unit) {
    const double d = b - a;
    if (d == 0) return "0";
    return (d > 0 ? "+" : "-") + format_metric(std::fabs(d), unit);
}

QString format_relative_change(double a, double b) {
    if (a == 0) return {};
    const double pct = (b - a) / std::fabs(a) * 100;
    if (pct == 0) return "0%";
    const int dec = std::fabs(pct) < 10 ? 1 : 0;
    return (pct > 0 ? "+" : "-") + QString::number(std::fabs(pct), 'f', dec) + "%";
}

bool answer_before(const std::string& a, const std::string& b) {
    const auto na = as_number(a), nb = as_number(b);
    if (na && nb) return *na != *nb ? *na < *nb : a < b;
    if (na != nb) return na.has_value();  // numbers first
    static const QCollator natural = [] {
        QCollator c;
        c.setNumericMode(true);
        c.setCaseSensitivity(Qt::CaseInsensitive);
        return c;
    }();
    const int c = natural.compare(QString::fromStdString(a), QString::fromStdString(b));
    return c != 0 ? c < 0 : a < b;
}

std::vector<AnswerCount> answer_counts(const StoredRun& run) {
    std::map<std::string, int> by;
    for (const Node& n : run.tree.nodes())
        if (!n.answer.empty()) ++by[n.answer];
    std::vector<AnswerCount> out;
    out.reserve(by.size());
    for (const auto& [a, n] : by) out.push_back({a, n});
    std::sort(out.begin(), out.end(), [](const AnswerCount& x, const AnswerCount& y) {
        if (x.votes != y.votes) return x.votes > y.votes;
        return answer_before(x.answer, y.answer);
    });
    return out;
}

CompareView::CompareView(std::vector<StoredRun> runs, QWidget* parent)
    : QWidget(parent), runs_(std::move(runs)) {
    setObjectName("compareView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    stack_ = new QStackedWidget(this);
    lay->addWidget(stack_);
    if (runs_.size() > 2) stack_->addWidget(build_table_page());
    diff_page_ = build_diff_page();
    stack_->addWidget(diff_page_);
    if (runs_.size() == 2)
        show_pair(0, 1);
    else if (runs_.size() > 2)
        show_table();
}

bool CompareView::showing_diff() const {
    return stack_->currentWidget() == diff_page_ && has_pair_;
}

int CompareView::divergence_token() const {
    return highlighted_;
}

QString CompareView::trace_summary() const {
    return summary_->text();
}

QColor CompareView::divergence_colour() const {
    return dark_theme(palette()) ? QColor(214, 142, 0) : QColor(255, 176, 32);
}

QWidget* CompareView::build_pane(int side) {
    auto* pane = new QFrame(this);
    pane->setObjectName(side == 0 ? "comparePaneA" : "comparePaneB");
    pane->setFrameShape(QFrame::StyledPanel);
    auto* v = new QVBoxLayout(pane);
    v->setContentsMargins(6, 6, 6, 6);
    auto* title = new QLabel(pane);
    title->setTextFormat(Qt::RichText);
    title->setWordWrap(true);
    title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* model = new RunModel(pane);
    auto* tree = new TreeView(model, pane);
    tree->setMinimumHeight(120);
    tree->set_legend_visible(false);  // it would cover most of a pane's tree; its menu shows it
    auto* answers = make_table({"answer", "votes", "share"}, pane);
    answers->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    answers->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    answers->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    answers->setSelectionMode(QAbstractItemView::NoSelection);
    v->addWidget(title);
    v->addWidget(tree, 1);
    v->addWidget(answers);
    (side == 0 ? title_a_ : title_b_) = title;
    (side == 0 ? model_a_ : model_b_) = model;
    (side == 0 ? tree_a_ : tree_b_) = tree;
    (side == 0 ? answers_a_ : answers_b_) = answers;
    return pane;
}

QWidget* CompareView::build_diff_page() {
    auto* page = new QWidget(this);
    auto* v = new QVBoxLayout(page);
    v->setContentsMargins(4, 4, 4, 4);
    if (runs_.size() > 2) {
        back_ = new QPushButton(QString("All %1 runs").arg(runs_.size()), page);
        back_->setObjectName("compareBack");
        connect(back_, &QPushButton::clicked, this, &CompareView::show_table);
        auto* h = new QHBoxLayout();
        h->addWidget(back_);
        h->addStretch(1);
        v->addLayout(h);
    }
    auto* split = new QSplitter(Qt::Vertical, page);
    auto* top = new QSplitter(Qt::Horizontal, split);
    top->addWidget(build_pane(0));
    metrics_ = make_table({"metric", "A", "B", "B - A", "change"}, top);
    metrics_->setObjectName("compareMetrics");
    metrics_->setSelectionMode(QAbstractItemView::NoSelection);
    metrics_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    metrics_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    top->addWidget(metrics_);
    top->addWidget(build_pane(1));
    top->setStretchFactor(0, 3);
    top->setStretchFactor(1, 4);
    top->setStretchFactor(2, 3);

    auto* bottom = new QWidget(split);
    auto* bv = new QVBoxLayout(bottom);
    bv->setContentsMargins(0, 0, 0, 0);
    summary_ = new QLabel(bottom);
    summary_->setObjectName("compareTraceSummary");
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    trace_ = new QTextBrowser(bottom);
    trace_->setObjectName("compareTrace");
    trace_->setOpenLinks(false);
    bv->addWidget(summary_);
    bv->addWidget(trace_, 1);
    split->addWidget(top);
    split->addWidget(bottom);
    split->setStretchFactor(0, 5);
    split->setStretchFactor(1, 4);
    v->addWidget(split, 1);
    return page;
}

QWidget* CompareView::build_table_page() {
    auto* page = new QWidget(this);
    auto* v = new QVBoxLayout(page);
    v->setContentsMargins(4, 4, 4, 4);
    auto* note = new QLabel(
        QString("%1 runs. Select two rows and press Compare (or double-click a row to compare "
                "it with the first) to see them side by side.")
            .arg(runs_.size()),
        page);
    note->setWordWrap(true);
    table_ = make_table({"run", "strategy", "parameters", "answer", "correct", "tokens", "passes",
                         "seconds", "nodes"},
                        page);
    table_->setObjectName("compareTable");
    table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    use_sort_arrows(table_->horizontalHeader());
    table_->setRowCount(static_cast<int>(runs_.size()));
    for (int i = 0; i < static_cast<int>(runs_.size()); ++i) {
        const StoredRun& r = runs_[static_cast<size_t>(i)];
        const Shape s = shape_of(r);
        auto* id = new SortItem(QString::number(r.run.id), static_cast<double>(r.run.id));
        id->setData(Qt::UserRole + 1, i);  // the run's index, wherever sorting puts the row
        table_->setItem(i, 0, id);
        table_->setItem(i, 1, new SortItem(QString::fromStdString(r.run.strategy)));
        auto* params = new SortItem(params_summary(r.run.params, 60));
        params->setToolTip(params_summary(r.run.params, 2000));
        table_->setItem(i, 2, params);
        table_->setItem(i, 3, new SortItem(visible(r.run.answer, false)));
        auto* correct = new SortItem(correct_text(r.run.correct), r.run.correct);
        correct->setTextAlignment(Qt::AlignCenter);
        table_->setItem(i, 4, correct);
        table_->setItem(
            i, 5,
            new SortItem(format_metric(static_cast<double>(r.run.tokens), MetricUnit::Count),
                         static_cast<double>(r.run.tokens)));
        table_->setItem(i, 6,
                        new SortItem(format_metric(static_cast<double>(r.run.forward_passes),
                                                   MetricUnit::Count),
                                     static_cast<double>(r.run.forward_passes)));
        table_->setItem(
            i, 7,
            new SortItem(QString::number(r.run.wall_seconds, 'f', decimals_for(r.run.wall_seconds)),
                         r.run.wall_seconds));
        table_->setItem(i, 8, new SortItem(format_metric(s.nodes, MetricUnit::Count), s.nodes));
    }
    colour_table();
    table_->setSortingEnabled(true);
    table_->sortByColumn(0, Qt::AscendingOrder);
    // Sized to their contents once, then the user's to resize.
    table_->resizeColumnsToContents();
    table_->setColumnWidth(2, std::min(table_->columnWidth(2), 480));
    open_pair_ = new QPushButton("Compare the two selected runs", page);
    open_pair_->setObjectName("compareOpenPair");
    open_pair_->setEnabled(false);
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        open_pair_->setEnabled(table_->selectionModel()->selectedRows().size() == 2);
    });
    connect(open_pair_, &QPushButton::clicked, this, &CompareView::compare_selected_rows);
    connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        const int i = table_->item(row, 0)->data(Qt::UserRole + 1).toInt();
        const int first = table_->item(0, 0)->data(Qt::UserRole + 1).toInt();
        const int second = table_->item(1, 0)->data(Qt::UserRole + 1).toInt();
        show_pair(first, i == first ? second : i);
    });
    auto* h = new QHBoxLayout();
    h->addStretch(1);
    h->addWidget(open_pair_);
    v->addWidget(note);
    v->addWidget(table_, 1);
    v->addLayout(h);
    return page;
}

void CompareView::colour_table() {
    if (!table_) return;
    for (int row = 0; row < table_->rowCount(); ++row) {
        QTableWidgetItem* it = table_->item(row, 4);
        const int correct = it ? it->data(Qt::UserRole).toInt() : -1;
        if (correct >= 0)
            it->setForeground(correct == 1 ? good_colour(palette()) : bad_colour(palette()));
    }
}

void CompareView::compare_selected_rows() {
    if (!table_) return;
    auto rows = table_->selectionModel()->selectedRows();
    if (rows.size() != 2) return;
    std::sort(rows.begin(), rows.end(),
              [](const QModelIndex& x, const QModelIndex& y) { return x.row() < y.row(); });
    show_pair(table_->item(rows[0].row(), 0)->data(Qt::UserRole + 1).toInt(),
              table_->item(rows[1].row(), 0)->data(Qt::UserRole + 1).toInt());
}

void CompareView::show_table() {
    if (table_) stack_->setCurrentIndex(0);
}

void CompareView::show_pair(int a, int b) {
    const int n = run_count();
    if (a < 0 || b < 0 || a >= n || b >= n) return;
    pair_a_ = a;
    pair_b_ = b;
    has_pair_ = true;
    trace_a_ = chosen_trace(run_a());
    trace_b_ = chosen_trace(run_b());
    diff_ = diff_traces(trace_a_, trace_b_);
    fill_pane(0, run_a());
    fill_pane(1, run_b());
    fill_metrics();
    render_trace();
    stack_->setCurrentWidget(diff_page_);
    fit_trees_later();
    scroll_to_divergence_later();
    emit pairShown(run_a().run.id, run_b().run.id);
}

void CompareView::fill_title(int side, const StoredRun& r) {
    const QPalette& pal = palette();
    const QString esc_model = QString::fromStdString(r.run.model_name).toHtmlEscaped();
    QString t = QString("<b>%1 &middot; run %2</b>").arg(side == 0 ? "A" : "B").arg(r.run.id);
    if (!r.run.name.empty()) t += " &nbsp;" + QString::fromStdString(r.run.name).toHtmlEscaped();
    t += QString("<br>%1 &middot; %2 &middot; %3")
             .arg(QString::fromStdString(r.run.strategy).toHtmlEscaped(),
                  esc_model.isEmpty() ? QString("(no model)") : esc_model,
                  QString::fromStdString(r.run.status).toHtmlEscaped());
    const QString params = params_summary(r.run.params, 90);
    if (!params.isEmpty()) t += "<br><small>" + params.toHtmlEscaped() + "</small>";
    t += "<br>answer <b>" +
         (r.run.answer.empty() ? QString("none") : visible(r.run.answer, false).toHtmlEscaped()) +
         "</b>";
    if (r.run.correct >= 0)
        t += QString(" &nbsp;<b><span style=\"color:%1\">%2</span></b>")
                 .arg((r.run.correct == 1 ? good_colour(pal) : bad_colour(pal)).name(),
                      r.run.correct == 1 ? QString("&#10003; right") : QString("&#10007; wrong"));
    title(side)->setText(t);
}

void CompareView::fill_pane(int side, const StoredRun& r) {
    fill_title(side, r);
    RunModel* model = side == 0 ? model_a_ : model_b_;
    model->load(r);
    const auto path = chosen_path(r);
    if (!path.empty()) model->select(path.back());

    QTableWidget* answers = answers_table(side);
    const auto counts = answer_counts(r);
    int total = 0;
    for (const auto& c : counts) total += c.votes;
    answers->setRowCount(static_cast<int>(counts.size()));
    for (int i = 0; i < static_cast<int>(counts.size()); ++i) {
        const AnswerCount& c = counts[static_cast<size_t>(i)];
        auto* answer = new QTableWidgetItem(visible(c.answer, false));
        if (c.answer == r.run.answer) {
            QFont f = answer->font();
            f.setBold(true);
            answer->setFont(f);
            answer->setToolTip("the run's answer");
        }
        answers->setItem(i, 0, answer);
        auto* votes = new QTableWidgetItem(QString::number(c.votes));
        votes->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        answers->setItem(i, 1, votes);
        auto* share = new QTableWidgetItem(
            QString::number(100.0 * c.votes / std::max(1, total), 'f', 0) + "%");
        share->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        answers->setItem(i, 2, share);
    }
    answers->setHorizontalHeaderLabels(
        {QString("answers (%1 vote%2)").arg(total).arg(total == 1 ? "" : "s"), "votes", "share"});
    // As tall as its rows, up to six (then it scrolls).
    const int shown = std::clamp(static_cast<int>(counts.size()), 1, 6);
    answers->setFixedHeight(shown * answers->verticalHeader()->defaultSectionSize() +
                            answers->horizontalHeader()->sizeHint().height() +
                            2 * answers->frameWidth());
}

void CompareView::fill_metrics() {
    const StoredRun &a = run_a(), &b = run_b();
    const Shape sa = shape_of(a), sb = shape_of(b);
    struct Row {
        QString label;
        MetricUnit unit;
        std::optional<double> va, vb;
    };
    const auto rate = [](const StoredRun& r) -> std::optional<double> {
        if (r.run.wall_seconds <= 0) return std::nullopt;
        return static_cast<double>(r.run.tokens) / r.run.wall_seconds;
    };
    const auto known = [](int64_t v) -> std::optional<double> {
        if (v <= 0) return std::nullopt;  // not recorded
        return static_cast<double>(v);
    };
    const auto entropy = [](const Shape& s) -> std::optional<double> {
        if (!s.has_tokens) return std::nullopt;
        return s.mean_entropy;
    };
    const std::vector<Row> numeric = {
        {"tokens", MetricUnit::Count, double(a.run.tokens), double(b.run.tokens)},
        {"forward passes", MetricUnit::Count, double(a.run.forward_passes),
         double(b.run.forward_passes)},
        {"wall time", MetricUnit::Seconds, a.run.wall_seconds, b.run.wall_seconds},
        {"speed", MetricUnit::Rate, rate(a), rate(b)},
        {"nodes", MetricUnit::Count, double(sa.nodes), double(sb.nodes)},
        {"branches (leaves)", MetricUnit::Count, double(sa.leaves), double(sb.leaves)},
        {"depth", MetricUnit::Count, double(sa.depth), double(sb.depth)},
        {"KV peak", MetricUnit::Bytes, known(a.run.kv_peak_bytes), known(b.run.kv_peak_bytes)},
        {"mean entropy", MetricUnit::Nats, entropy(sa), entropy(sb)},
    };
    const QString none = QString(QChar(0x2014));  // an em dash: not recorded
    struct TextRow {
        QString label, va, vb;
        bool same;
    };
    const std::vector<TextRow> text = {
        {"answer", a.run.answer.empty() ? "none" : visible(a.run.answer, false),
         b.run.answer.empty() ? "none" : visible(b.run.answer, false),
         a.run.answer == b.run.answer},
        {"correct", correct_text(a.run.correct), correct_text(b.run.correct),
         a.run.correct == b.run.correct},
        {"seed", QString::number(a.run.seed), QString::number(b.run.seed),
         a.run.seed == b.run.seed},
        {"prompt", visible(a.run.prompt, false).left(40), visible(b.run.prompt, false).left(40),
         a.run.prompt == b.run.prompt},
    };
    metrics_->setRowCount(static_cast<int>(numeric.size() + text.size()));
    const auto right = [](const QString& s) {
        auto* it = new QTableWidgetItem(s);
        it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        return it;
    };
    int row = 0;
    for (const Row& r : numeric) {
        metrics_->setItem(row, 0, new QTableWidgetItem(r.label));
        metrics_->setItem(row, 1, right(r.va ? format_metric(*r.va, r.unit) : none));
        metrics_->setItem(row, 2, right(r.vb ? format_metric(*r.vb, r.unit) : none));
        const bool both = r.va && r.vb;
        metrics_->setItem(row, 3,
                          right(both ? format_metric_difference(*r.va, *r.vb, r.unit) : none));
        metrics_->setItem(row, 4, right(both ? format_relative_change(*r.va, *r.vb) : QString()));
        ++row;
    }
    for (const TextRow& r : text) {
        metrics_->setItem(row, 0, new QTableWidgetItem(r.label));
        auto* ia = right(r.va);
        auto* ib = right(r.vb);
        ia->setToolTip(r.va);
        ib->setToolTip(r.vb);
        metrics_->setItem(row, 1, ia);
        metrics_->setItem(row, 2, ib);
        auto* d = right(r.same ? "same" : "differs");
        if (!r.same) {
            QFont f = d->font();
            f.setBold(true);
            d->setFont(f);
        }
        metrics_->setItem(row, 3, d);
        metrics_->setItem(row, 4, right(QString()));
        ++row;
    }
}

void CompareView::render_trace() {
    const QPalette& pal = palette();
    const bool dark = dark_theme(pal);
    const QColor text = pal.color(QPalette::Text), base = pal.color(QPalette::Base);
    const QColor shared = faded(text, base, 0.3);
    const QColor only_a = dark ? QColor(120, 45, 45) : QColor(255, 214, 212);
    const QColor only_b = dark ? QColor(36, 94, 52) : QColor(206, 244, 210);
    const QColor div = divergence_colour();
    const QColor grid = faded(text, base, 0.8);
    const auto span = [](const QString& s, const QColor& fg, const QColor* bg, bool bold) {
        QString style = "color:" + fg.name() + ";";
        if (bg) style += "background-color:" + bg->name() + ";";
        if (bold) style += "font-weight:bold;";
        return "<span style=\"" + style + "\">" + s + "</span>";
    };
    // A token as HTML: newlines break the line (and show as ⏎ where changed).
    const auto token_html = [&](const std::string& piece, bool changed) {
        QString v = visible(piece, changed).toHtmlEscaped();
        return v.replace(QChar(0x23CE), changed ? QString(QChar(0x23CE)) + "<br>" : "<br>");
    };

    highlighted_ = -1;
    QString html = QString(
                       "<table width=\"100%\" cellspacing=\"0\" cellpadding=\"5\" border=\"1\" "
                       "style=\"border-color:%1; border-style:solid;\">")
                       .arg(grid.name());
    html += QString(
                "<tr><th width=\"50%\" align=\"left\">A &middot; run %1</th>"
                "<th width=\"50%\" align=\"left\">B &middot; run %2</th></tr>")
                .arg(run_a().run.id)
                .arg(run_b().run.id);
    // Runs of shared tokens and runs of changes. A row holds the shared
    // prefix, or a stretch of at least kResync shared tokens (where the
    // traces fall back in step), or the changes between them with any
    // shorter shared stretch inline, so a changed word reads in its sentence.
    constexpr size_t kResync = 8;
    const auto& es = diff_.entries;
    struct Hunk {
        bool same;
        size_t begin, end;
    };
    std::vector<std::vector<Hunk>> rows;
    bool last_row_changes = false;
    for (size_t i = 0; i < es.size();) {
        const bool same = es[i].op == TraceDiff::Op::Same;
        size_t j = i;
        while (j < es.size() && (es[j].op == TraceDiff::Op::Same) == same) ++j;
        const bool own_row = same && (i == 0 || j - i >= kResync);
        if (own_row || !last_row_changes) rows.emplace_back();
        rows.back().push_back({same, i, j});
        last_row_changes = !own_row;
        i = j;
    }
    // The first divergence is the token after the shared prefix in each
    // trace, whatever the alignment made of it.
    const int mark_at = diff_.identical ? -1 : static_cast<int>(diff_.common_prefix);
    const QColor div_text = contrast_text_colour(div);
    // pre-wrap: a token's leading space stays, after a line break too.
    const QString para = "<p style=\"white-space:pre-wrap; margin:0\">";
    const auto row_html = [&para](const QString& left, const QString& right) {
        return "<tr><td valign=\"top\">" + para + left + "</p></td><td valign=\"top\">" + para +
               right + "</p></td></tr>";
    };
    if (run_a().run.prompt != run_b().run.prompt) {
        const auto prompt = [&](const StoredRun& r) {
            QString v = visible(r.run.prompt.substr(0, 600), false).toHtmlEscaped();
            v.replace(QChar(0x23CE), "<br>");
            return span("<i>prompt: " + v + "</i>", shared, nullptr, false);
        };
        html += row_html(prompt(run_a()), prompt(run_b()));
    }
    bool anchored = false;
    for (size_t r = 0; r < rows.size(); ++r) {
        QString cell[2], plain[2];  // plain: shared text not yet in a span
        bool changes = false, marked = false;
        const auto flush = [&](int side) {
            if (plain[side].isEmpty()) return;
            cell[side] += span(plain[side], shared, nullptr, false);
            plain[side].clear();
        };
        const auto add = [&](int side, int index, bool changed) {
            const auto& trace = side == 0 ? trace_a_ : trace_b_;
            const QString t =
                token_html(trace[static_cast<size_t>(index)].piece, changed || index == mark_at);
            if (!changed && index != mark_at) {
                plain[side] += t;
                return;
            }
            flush(side);
            if (index == mark_at) {
                cell[side] += span(t, div_text, &div, true);
                marked = true;
            } else {
                const QColor& bg = side == 0 ? only_a : only_b;
                cell[side] += span(t, contrast_text_colour(bg), &bg, false);
            }
        };
        for (const Hunk& h : rows[r]) {
            changes |= !h.same;
            for (size_t k = h.begin; k < h.end; ++k) {
                if (es[k].op != TraceDiff::Op::OnlyB) add(0, es[k].a, !h.same);
                if (es[k].op != TraceDiff::Op::OnlyA) add(1, es[k].b, !h.same);
            }
        }
        flush(0);
        flush(1);
        if (changes) {
            // The last changes of the traces are one side's only: the
            // other ended before them.
            const Hunk& last = rows[r].back();
            if (r + 1 == rows.size() && !last.same) {
                bool tail_a = false, tail_b = false;
                for (size_t k = last.begin; k < last.end; ++k) {
                    tail_a |= es[k].op == TraceDiff::Op::OnlyA;
                    tail_b |= es[k].op == TraceDiff::Op::OnlyB;
                }
                const QString ends = span("<i>(trace ends)</i>", shared, nullptr, false);
                if (!tail_a) cell[0] += ends;
                if (!tail_b) cell[1] += ends;
            }
            const QString nothing = span("<i>(nothing here)</i>", shared, nullptr, false);
            for (QString& c : cell)
                if (c.isEmpty()) c = nothing;
        }
        if (marked && !anchored) {
            cell[0] = "<a name=\"diverge\"></a>" + cell[0];
            anchored = true;
            highlighted_ = mark_at;
        }
        html += row_html(cell[0], cell[1]);
    }
    if (es.empty())
        html += "<tr><td colspan=\"2\"><i>Neither run has a chosen trace.</i></td></tr>";
    html += "</table>";
    trace_->setHtml(html);

    // The sentence over the traces.
    const auto steps = [](const std::vector<TraceToken>& t) {
        return t.empty() ? 0 : t.back().step;
    };
    QString s;
    const bool same_prompt = run_a().run.prompt == run_b().run.prompt;
    if (diff_.identical) {
        s = QString("The chosen traces are identical: %1 tokens over %2 steps.")
                .arg(format_metric(static_cast<double>(trace_a_.size()), MetricUnit::Count))
                .arg(steps(trace_a_));
    } else {
        const size_t at = diff_.common_prefix;
        const auto quoted = [](const std::vector<TraceToken>& t, size_t k, const char* who) {
            // Concatenated, not arg(): model text may hold "%1".
            if (k >= t.size()) return QString(who) + " ends there";
            return QString(who) + " has \u201c" + visible(t[k].piece, true) + "\u201d (step " +
                   QString::number(t[k].step) + ")";
        };
        const auto count = [](size_t n) {
            return format_metric(static_cast<double>(n), MetricUnit::Count);
        };
        s = "The chosen traces share " + count(at) + " tokens, then diverge at token " +
            QString::number(at) + ": " + quoted(trace_a_, at, "A") + ", " +
            quoted(trace_b_, at, "B") + ". " + count(diff_.same) + " of " + count(trace_a_.size()) +
            " and " + count(trace_b_.size()) + " tokens align.";
        if (!diff_.exact)
            s += " The traces are too long to align all through: past the first " +
                 count(static_cast<size_t>(std::sqrt(static_cast<double>(kTraceDiffCells)))) +
                 " tokens after the divergence the rest of each is shown whole.";
    }
    if (!same_prompt) s += " The prompts differ.";
    summary_->setText(s);
}

int CompareView::divergence_position() const {
    const QColor div = divergence_colour();
    const QTextDocument* doc = trace_->document();
    for (QTextBlock b = doc->begin(); b != doc->end(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextCharFormat f = it.fragment().charFormat();
            if (f.background().style() != Qt::NoBrush && f.background().color() == div)
                return it.fragment().position();
        }
    return -1;
}

void CompareView::fit_trees_later() {
    QTimer::singleShot(0, this, [this] {
        for (TreeView* t : {tree_a_, tree_b_})
            if (t && !t->user_zoomed()) t->fit();
    });
}

void CompareView::scroll_to_divergence_later() {
    QTimer::singleShot(0, this, [this] {
        if (highlighted_ < 0) return;
        // The divergence a third of the way down: what led to it stays in
        // view above. (scrollToAnchor placed it before the table's layout.)
        const int at = divergence_position();
        if (at < 0) return;
        QTextCursor c(trace_->document());
        c.setPosition(at);
        QScrollBar* bar = trace_->verticalScrollBar();
        bar->setValue(bar->value() + trace_->cursorRect(c).top() -
                      trace_->viewport()->height() / 3);
    });
}

void CompareView::resizeEvent(QResizeEvent* e) {
    QWidget::resizeEvent(e);
    if (showing_diff()) {
        fit_trees_later();
        scroll_to_divergence_later();
    }
}

void CompareView::showEvent(QShowEvent* e) {
    QWidget::showEvent(e);
    if (showing_diff()) {
        fit_trees_later();
        scroll_to_divergence_later();
    }
}

void CompareView::changeEvent(QEvent* e) {
    QWidget::changeEvent(e);
    if ((e->type() == QEvent::PaletteChange || e->type() == QEvent::ApplicationPaletteChange) &&
        summary_) {
        // The highlight and the right/wrong colours follow the theme.
        if (has_pair_) {
            fill_title(0, run_a());
            fill_title(1, run_b());
            render_trace();
            if (showing_diff()) scroll_to_divergence_later();
        }
        colour_table();
    }
}

}  // namespace rs::views
