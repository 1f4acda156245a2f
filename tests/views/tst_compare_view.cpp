// The compare view, offscreen, on runs stored in a real SQLite run store and
// loaded back: the traces' first divergence (highlighted, named, scrolled
// to), identical traces said so, metrics formatted, answer votes in order,
// and more than two runs as a sortable table that opens any two as a diff.
// Screenshots (light and dark, 1280x720 and 1920x1080) go to
// <build>/screenshots/compare-*.png.
#include <QDir>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScopeGuard>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QTextBrowser>
#include <QtTest>
#include <map>

#include "reasonscope/run_store.h"
#include "reasonscope/trace_diff.h"
#include "widgets/compare_view.h"
#include "widgets/theme.h"
#include "widgets/tree_view.h"

using namespace rs;

namespace {

// Every piece has one id, in every run, as one vocabulary would.
TokenId id_of(const std::string& piece) {
    static std::map<std::string, TokenId> ids;
    return ids.emplace(piece, static_cast<TokenId>(ids.size() + 1)).first->second;
}

int add_step(StoredRun& r, int parent, const std::vector<std::string>& pieces, float entropy,
             const std::string& answer = "", int correct = -1) {
    const int id = r.tree.add(parent);
    Node& n = r.tree.at(id);
    n.depth = parent >= 0 ? r.tree.at(parent).depth + 1 : 0;
    for (size_t i = 0; i < pieces.size(); ++i) {
        TokenRecord t;
        t.id = id_of(pieces[i]);
        t.piece = pieces[i];
        t.entropy = entropy + 0.1f * static_cast<float>(i % 5);
        t.logprob = -0.2f;
        n.tokens.push_back(t);
        n.text += pieces[i];
    }
    n.answer = answer;
    n.correct = correct;
    n.status = answer.empty() ? NodeStatus::Expanded : NodeStatus::Terminal;
    return id;
}

std::vector<std::string> words(const std::string& prefix, int count, int per_line) {
    std::vector<std::string> w;
    for (int i = 0; i < count; ++i)
        w.push_back(" " + prefix + std::to_string(i) + ((i + 1) % per_line == 0 ? "\n" : ""));
    return w;
}

// A run whose chosen trace is `steps`, ending in `answer`, with `wrong`
// side branches (answer "7") beside its second step.
StoredRun make_run(const std::string& strategy, const std::vector<std::vector<std::string>>& steps,
                   const std::string& answer, int correct, int wrong) {
    StoredRun r;
    r.run.name = strategy + " on add-2-3";
    r.run.status = "finished";
    r.run.strategy = strategy;
    r.run.params = R"({"beam_width": 3, "max_depth": 6, "temperature": 0.7})";
    r.run.model_name = "reasoner-tiny";
    r.run.model_path = "resources/models/reasoner.gguf";
    r.run.task_id = "add-2-3";
    r.run.prompt = "What is 2+3?\n";
    r.run.expected = "5";
    r.run.seed = 7;
    add_step(r, -1, {}, 0);
    int parent = 0;
    for (size_t s = 0; s < steps.size(); ++s) {
        const bool last = s + 1 == steps.size();
        const int id = add_step(r, parent, steps[s], 0.3f * static_cast<float>(s % 4),
                                last ? answer : "", last ? correct : -1);
        if (s == 0)
            for (int k = 0; k < wrong; ++k) {
                const int side = add_step(r, id, {" Guess", ":", " 7", ".\n"}, 1.6f);
                add_step(r, side, {"The", " answer", " is", " 7", "."}, 1.2f, "7", 0);
            }
        parent = id;
    }
    r.run.chosen_node = parent;
    r.run.answer = answer;
    r.run.correct = correct;
    int64_t tokens = 0;
    for (const Node& n : r.tree.nodes()) tokens += static_cast<int64_t>(n.tokens.size());
    r.run.tokens = tokens;
    r.run.forward_passes = tokens + 4;
    r.run.node_count = r.tree.size();
    r.run.wall_seconds = 2.5;
    r.run.kv_peak_bytes = 3 << 20;
    return r;
}

// The two runs of the diff tests: the same reasoning until the sum, where A
// writes " 5" and B writes " 6" (token `diverge` of both traces).
const std::vector<std::string> kStep1 = {"Let", " us", " add", " the", " numbers", ".\n"};
std::vector<std::vector<std::string>> steps_with(const std::string& sum,
                                                 const std::vector<std::string>& filler = {}) {
    std::vector<std::vector<std::string>> s = {kStep1};
    if (!filler.empty()) s.push_back(filler);
    s.push_back({"2", " +", " 3", " =", sum, ".\n"});
    s.push_back({"The", " answer", " is", sum, "."});
    return s;
}

// Stores each run in a fresh SQLite run store and loads it back.
class StoredRuns {
  public:
    StoredRuns() : store_(RunStore::open(dir_.filePath("runs.sqlite").toStdString())) {}
    StoredRun add(const StoredRun& r) { return store_->load(store_->import_run(r)); }

  private:
    QTemporaryDir dir_;
    std::unique_ptr<RunStore> store_;
};

// The texts the rendered trace paints on `colour`, in document order
// (adjacent fragments joined: an anchor splits a token's text).
QStringList texts_on(const QTextDocument* doc, const QColor& colour) {
    QStringList out;
    int end = -1;
    for (QTextBlock b = doc->begin(); b != doc->end(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment f = it.fragment();
            if (!f.isValid() || f.charFormat().background().style() == Qt::NoBrush ||
                f.charFormat().background().color() != colour)
                continue;
            if (f.position() == end)
                out.back() += f.text();
            else
                out << f.text();
            end = f.position() + f.length();
        }
    return out;
}

views::TreeView* tree_of(const views::CompareView& view, const char* pane) {
    return view.findChild<QWidget*>(pane)->findChild<views::TreeView*>();
}

QString cell(const QTableWidget* t, int row, int col) {
    const QTableWidgetItem* it = t->item(row, col);
    return it ? it->text() : QString();
}

int metric_row(const QTableWidget* t, const QString& label) {
    for (int r = 0; r < t->rowCount(); ++r)
        if (cell(t, r, 0) == label) return r;
    return -1;
}

QString shots_dir() {
    const QString d = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
    QDir().mkpath(d);
    return d;
}

// The view at each size, in the light and the dark theme.
void save_shots(views::CompareView& view, const QString& name) {
    const auto restore = qScopeGuard([] { QApplication::setPalette(views::light_palette()); });
    for (const bool dark : {false, true}) {
        QApplication::setPalette(dark ? views::dark_palette() : views::light_palette());
        for (const QSize size : {QSize(1280, 720), QSize(1920, 1080)}) {
            view.resize(size);
            QTest::qWait(80);
            if (view.showing_diff()) {
                // Every coloured token reads in both themes (WCAG AA, 4.5:1).
                const QTextDocument* doc = view.trace_view()->document();
                int coloured = 0;
                for (QTextBlock b = doc->begin(); b != doc->end(); b = b.next())
                    for (auto it = b.begin(); !it.atEnd(); ++it) {
                        const QTextCharFormat f = it.fragment().charFormat();
                        if (f.background().style() == Qt::NoBrush) continue;
                        ++coloured;
                        const QColor fg = f.foreground().color(), bg = f.background().color();
                        QVERIFY2(views::contrast_ratio(fg, bg) >= 4.5,
                                 qPrintable(it.fragment().text() + ": " + fg.name() + " on " +
                                            bg.name()));
                    }
                QVERIFY(coloured >= 2);
                QCOMPARE(view.divergence_colour(),
                         dark ? QColor(214, 142, 0) : QColor(255, 176, 32));
            }
            const QString file = QString("%1/compare-%2-%3x%4-%5.png")
                                     .arg(shots_dir(), name)
                                     .arg(size.width())
                                     .arg(size.height())
                                     .arg(dark ? "dark" : "light");
            QVERIFY(view.grab().save(file));
        }
    }
}

}  // namespace

class TestCompareView : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() { QApplication::setPalette(views::light_palette()); }

    // Two runs that differ at a known token: the view highlights that token
    // in both traces, names both, and scrolls the long shared prefix away.
    void divergenceIsHighlightedAndScrolledTo() {
        StoredRuns store;
        const auto filler = words("w", 300, 10);  // 30 lines shared before the sum
        const StoredRun a = store.add(make_run("beam-search", steps_with(" 5", filler), "5", 1, 2));
        const StoredRun b = store.add(make_run("best-of-n", steps_with(" 6", filler), "6", 0, 1));
        const int diverge = static_cast<int>(kStep1.size() + filler.size() + 4);

        views::CompareView view({a, b});
        view.resize(1280, 720);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QVERIFY(view.showing_diff());
        QCOMPARE(view.trace_diff().common_prefix, size_t(diverge));
        QVERIFY(!view.trace_diff().identical);
        QCOMPARE(view.divergence_token(), diverge);
        // After the sum the traces agree again (". \n The answer is") and
        // differ once more: the token-level diff finds both.
        QCOMPARE(view.trace_diff().same, kStep1.size() + filler.size() + 11 - 2);
        int only_a = 0, only_b = 0;
        for (const auto& e : view.trace_diff().entries) {
            only_a += e.op == TraceDiff::Op::OnlyA;
            only_b += e.op == TraceDiff::Op::OnlyB;
        }
        QCOMPARE(only_a, 2);  // " 5" twice
        QCOMPARE(only_b, 2);  // " 6" twice

        const QString summary = view.trace_summary();
        QVERIFY2(summary.contains(QString("diverge at token %1").arg(diverge)),
                 qPrintable(summary));
        QVERIFY2(summary.contains(QString::fromUtf8("A has \u201c 5\u201d")), qPrintable(summary));
        QVERIFY2(summary.contains(QString::fromUtf8("B has \u201c 6\u201d")), qPrintable(summary));
        QVERIFY(!summary.contains("identical"));

        // The rendered trace: exactly the first differing token of each run
        // on the highlight, A's first.
        const QStringList marked =
            texts_on(view.trace_view()->document(), view.divergence_colour());
        QCOMPARE(marked, (QStringList{" 5", " 6"}));
        const QString text = view.trace_view()->toPlainText();
        QVERIFY(text.contains("A \u00b7 run " + QString::number(a.run.id)));
        QVERIFY(text.contains(" w299"));
        // Scrolled to the divergence: the shared prefix is above the view.
        QTRY_VERIFY(view.trace_view()->verticalScrollBar()->value() > 0);

        // The panes: titled, each with its tree.
        QVERIFY(view.title(0)->text().contains("run " + QString::number(a.run.id)));
        QVERIFY(view.title(0)->text().contains("beam-search"));
        QVERIFY(view.title(0)->text().contains("reasoner-tiny"));
        QVERIFY(view.title(0)->text().contains("right"));
        QVERIFY(view.title(1)->text().contains("best-of-n"));
        QVERIFY(view.title(1)->text().contains("wrong"));
        QCOMPARE(view.findChildren<views::TreeView*>().size(), 2);
        QCOMPARE(tree_of(view, "comparePaneA")->node_count(), a.tree.size());
        QCOMPARE(tree_of(view, "comparePaneB")->node_count(), b.tree.size());

        save_shots(view, "diff");
    }

    // Runs whose chosen traces are the same token for token say so, and
    // name no divergence (it once said "diverge at step 6").
    void identicalTracesSayIdentical() {
        StoredRuns store;
        const StoredRun a = store.add(make_run("beam-search", steps_with(" 5"), "5", 1, 1));
        const StoredRun b = store.add(make_run("self-consistency", steps_with(" 5"), "5", 1, 3));
        QVERIFY(a.run.id != b.run.id);
        views::CompareView view({a, b});
        view.resize(1280, 720);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QVERIFY(view.trace_diff().identical);
        QCOMPARE(view.divergence_token(), -1);
        const QString summary = view.trace_summary();
        QVERIFY2(summary.startsWith("The chosen traces are identical: 17 tokens over 3 steps."),
                 qPrintable(summary));
        QVERIFY(!summary.contains("diverge"));
        QVERIFY(texts_on(view.trace_view()->document(), view.divergence_colour()).isEmpty());
        QVERIFY(!view.trace_view()->toPlainText().contains("trace ends"));
        // Different trees all the same: B has more side branches.
        QCOMPARE(tree_of(view, "comparePaneA")->node_count(), a.tree.size());
        QCOMPARE(tree_of(view, "comparePaneB")->node_count(), b.tree.size());
        QVERIFY(b.tree.size() > a.tree.size());
    }

    // One trace is the other's beginning: the divergence is where it ends.
    void traceThatStopsEarlyDivergesWhereItEnds() {
        std::vector<TraceToken> a, b;
        for (int i = 0; i < 5; ++i) a.push_back({i + 1, "t" + std::to_string(i), 1, 1});
        b = a;
        b.resize(3);
        const TraceDiff d = diff_traces(a, b);
        QVERIFY(!d.identical);
        QCOMPARE(d.common_prefix, size_t(3));
        QCOMPARE(d.entries.size(), size_t(5));
        QVERIFY(d.entries[3].op == TraceDiff::Op::OnlyA && d.entries[4].op == TraceDiff::Op::OnlyA);
        // Too long for the table: the continuations are shown whole.
        std::vector<TraceToken> x = a, y = a;
        x[1].piece = "X";
        y[1].piece = "Y";
        const TraceDiff coarse = diff_traces(x, y, 0);
        QCOMPARE(coarse.common_prefix, size_t(1));
        QVERIFY(!coarse.exact);
        const TraceDiff fine = diff_traces(x, y);
        QVERIFY(fine.exact);
        QCOMPARE(fine.same, size_t(4));
        QCOMPARE(fine.entries.size(), size_t(6));
        // A middle past the table's bound: aligned over a window of
        // sqrt(cells) tokens after the divergence, the rest of each whole.
        std::vector<TraceToken> p, q;
        for (int i = 0; i < 10; ++i) p.push_back({i + 1, "t" + std::to_string(i), 1, 1});
        q = p;
        p[1].piece = "X";
        q[1].piece = "Y";
        p[8].piece = "P";
        q[8].piece = "Q";
        const TraceDiff windowed = diff_traces(p, q, 16);  // middles of 8: a 4 x 4 window
        QVERIFY(!windowed.exact);
        QCOMPARE(windowed.common_prefix, size_t(1));
        QCOMPARE(windowed.common_suffix, size_t(1));
        QCOMPARE(windowed.same, size_t(5));  // t0, t2 t3 t4 in the window, t9
        QString ops;
        for (const auto& e : windowed.entries)
            ops += e.op == TraceDiff::Op::Same ? '=' : e.op == TraceDiff::Op::OnlyA ? 'a' : 'b';
        QCOMPARE(ops, QString("=ab===aaaabbbb="));
        QCOMPARE(diff_traces(p, q).same, size_t(8));  // exact: t5 t6 t7 align too

        // In the view: B stops after the sum; A's next token is the
        // divergence, and B's side says its trace ends.
        StoredRuns store;
        auto shorter = steps_with(" 5");
        shorter.pop_back();
        const StoredRun ra = store.add(make_run("beam-search", steps_with(" 5"), "5", 1, 0));
        const StoredRun rb = store.add(make_run("beam-search", shorter, "", -1, 0));
        views::CompareView view({ra, rb});
        view.resize(1280, 720);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QCOMPARE(view.divergence_token(), 12);
        QVERIFY2(view.trace_summary().contains(
                     QString::fromUtf8("A has \u201cThe\u201d (step 3), B ends there")),
                 qPrintable(view.trace_summary()));
        QCOMPARE(texts_on(view.trace_view()->document(), view.divergence_colour()),
                 QStringList{"The"});
        QVERIFY(view.trace_view()->toPlainText().contains("(trace ends)"));

        // Long traces that part at once: aligned over the window, and said so.
        const StoredRun la = store.add(make_run("best-of-n", {words("a", 2500, 20)}, "", -1, 0));
        const StoredRun lb = store.add(make_run("best-of-n", {words("b", 2500, 20)}, "", -1, 0));
        views::CompareView long_view({la, lb});
        QVERIFY(!long_view.trace_diff().exact);
        QCOMPARE(long_view.divergence_token(), 0);
        QVERIFY2(long_view.trace_summary().contains(
                     "past the first 2,048 tokens after the divergence the rest of each is shown "
                     "whole"),
                 qPrintable(long_view.trace_summary()));
    }

    // Metrics: both values and the difference, with units and rounding.
    void metricsAreFormatted() {
        QCOMPARE(views::format_metric(1234567, views::MetricUnit::Count), QString("1,234,567"));
        QCOMPARE(views::format_metric(12.3456, views::MetricUnit::Seconds), QString("12.3 s"));
        QCOMPARE(views::format_metric(3.14159, views::MetricUnit::Seconds), QString("3.14 s"));
        QCOMPARE(views::format_metric(250.4, views::MetricUnit::Seconds), QString("250 s"));
        QCOMPARE(views::format_metric(1536.0 * 1024, views::MetricUnit::Bytes), QString("1.5 MiB"));
        QCOMPARE(views::format_metric_difference(100, 112, views::MetricUnit::Count),
                 QString("+12"));
        QCOMPARE(views::format_metric_difference(7, 7, views::MetricUnit::Count), QString("0"));
        QCOMPARE(views::format_relative_change(100, 112), QString("+12%"));

        StoredRuns store;
        StoredRun ra = make_run("beam-search", steps_with(" 5"), "5", 1, 2);
        StoredRun rb = make_run("best-of-n", steps_with(" 6"), "6", 0, 2);
        ra.run.tokens = 100;
        rb.run.tokens = 112;
        ra.run.forward_passes = 40;
        rb.run.forward_passes = 30;
        ra.run.wall_seconds = 12.3456;
        rb.run.wall_seconds = 10.1;
        ra.run.kv_peak_bytes = 3 << 20;
        rb.run.kv_peak_bytes = 0;  // not recorded
        const StoredRun a = store.add(ra), b = store.add(rb);
        views::CompareView view({a, b});
        view.resize(1280, 720);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QTableWidget* m = view.metrics_table();
        const auto row = [&](const char* label) {
            const int r = metric_row(m, label);
            return QStringList{cell(m, r, 1), cell(m, r, 2), cell(m, r, 3), cell(m, r, 4)};
        };
        QCOMPARE(row("tokens"), (QStringList{"100", "112", "+12", "+12%"}));
        QCOMPARE(row("forward passes"), (QStringList{"40", "30", "-10", "-25%"}));
        QCOMPARE(row("wall time"), (QStringList{"12.3 s", "10.1 s", "-2.25 s", "-18%"}));
        QCOMPARE(row("speed"), (QStringList{"8.10 tok/s", "11.1 tok/s", "+2.99 tok/s", "+37%"}));
        QCOMPARE(row("KV peak"),
                 (QStringList{"3.0 MiB", QString(QChar(0x2014)), QString(QChar(0x2014)), ""}));
        QCOMPARE(row("nodes"), (QStringList{"8", "8", "0", "0%"}));
        QCOMPARE(row("answer"), (QStringList{"5", "6", "differs", ""}));
        QCOMPARE(row("correct"), (QStringList{"right", "wrong", "differs", ""}));
        QCOMPARE(row("prompt"),
                 (QStringList{"What is 2+3?\u23ce", "What is 2+3?\u23ce", "same", ""}));
    }

    // Each run's answers, most votes first, equal votes in numeric order.
    void answerDistributionsInOrder() {
        QVERIFY(views::answer_before("9", "10"));
        QVERIFY(views::answer_before("-1", "0.5"));
        QVERIFY(views::answer_before("1,000", "abc"));
        QVERIFY(!views::answer_before("abc", "12"));

        StoredRuns store;
        StoredRun ra = make_run("self-consistency", steps_with(" 5"), "5", 1, 0);
        StoredRun rb = make_run("self-consistency", steps_with(" 5"), "5", 1, 0);
        const auto leaves = [](StoredRun& r, const std::vector<std::pair<std::string, int>>& v) {
            for (const auto& [answer, n] : v)
                for (int i = 0; i < n; ++i) add_step(r, 1, {" x"}, 0.5f, answer, -1);
        };
        // A: 5 x4 (3 + the chosen), 10 x2, 9 x2, abc x2, 2 x1.
        leaves(ra, {{"10", 2}, {"abc", 2}, {"9", 2}, {"5", 3}, {"2", 1}});
        leaves(rb, {{"12", 1}, {"11", 1}, {"100", 1}});
        const StoredRun a = store.add(ra), b = store.add(rb);
        views::CompareView view({a, b});
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const auto column = [](const QTableWidget* t, int c) {
            QStringList s;
            for (int r = 0; r < t->rowCount(); ++r) s << cell(t, r, c);
            return s;
        };
        QCOMPARE(column(view.answers_table(0), 0), (QStringList{"5", "9", "10", "abc", "2"}));
        QCOMPARE(column(view.answers_table(0), 1), (QStringList{"4", "2", "2", "2", "1"}));
        QCOMPARE(column(view.answers_table(0), 2), (QStringList{"36%", "18%", "18%", "18%", "9%"}));
        QCOMPARE(column(view.answers_table(1), 0), (QStringList{"5", "11", "12", "100"}));
        QCOMPARE(view.answers_table(0)->item(0, 0)->font().bold(), true);  // the run's answer
    }

    // Three runs: one row each, sortable; two selected rows open as the diff
    // and the table is one click back.
    void threeRunsAsTable() {
        StoredRuns store;
        StoredRun r1 = make_run("beam-search", steps_with(" 5"), "5", 1, 1);
        StoredRun r2 = make_run("best-of-n", steps_with(" 6"), "6", 0, 2);
        StoredRun r3 = make_run("chain-of-thought", steps_with(" 5"), "5", 1, 0);
        r1.run.tokens = 1500;
        r2.run.tokens = 90;
        r3.run.tokens = 700;
        r2.run.wall_seconds = 31.24;
        r3.run.params = R"({"max_tokens": 256})";
        const std::vector<StoredRun> runs = {store.add(r1), store.add(r2), store.add(r3)};
        views::CompareView view(runs);
        view.resize(1280, 720);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QVERIFY(!view.showing_diff());
        QTableWidget* t = view.runs_table();
        QVERIFY(t);
        QCOMPARE(t->rowCount(), 3);
        QCOMPARE(t->columnCount(), 9);
        for (int r = 0; r < 3; ++r) {
            const RunRow& run = runs[static_cast<size_t>(r)].run;
            QCOMPARE(cell(t, r, 0), QString::number(run.id));
            QCOMPARE(cell(t, r, 1), QString::fromStdString(run.strategy));
            QCOMPARE(cell(t, r, 3), QString::fromStdString(run.answer));
            QCOMPARE(cell(t, r, 4), QString(run.correct == 1 ? "right" : "wrong"));
        }
        QCOMPARE(cell(t, 0, 2), QString("beam_width=3, max_depth=6, temperature=0.7"));
        QCOMPARE(cell(t, 2, 2), QString("max_tokens=256"));
        QCOMPARE(cell(t, 0, 5), QString("1,500"));
        QCOMPARE(cell(t, 1, 7), QString("31.2"));
        QCOMPARE(cell(t, 1, 8), QString("8"));
        // Sorted by tokens: numerically (90 < 700 < 1,500), not as text.
        t->sortByColumn(5, Qt::AscendingOrder);
        QCOMPARE(cell(t, 0, 5), QString("90"));
        QCOMPARE(cell(t, 1, 5), QString("700"));
        QCOMPARE(cell(t, 2, 5), QString("1,500"));
        save_shots(view, "table");

        // Rows 0 and 2 after sorting are runs r2 and r1.
        QSignalSpy shown(&view, &views::CompareView::pairShown);
        auto* open = view.findChild<QPushButton*>("compareOpenPair");
        QVERIFY(open && !open->isEnabled());
        t->selectionModel()->select(t->model()->index(0, 0),
                                    QItemSelectionModel::Select | QItemSelectionModel::Rows);
        t->selectionModel()->select(t->model()->index(2, 0),
                                    QItemSelectionModel::Select | QItemSelectionModel::Rows);
        QVERIFY(open->isEnabled());
        open->click();
        QCOMPARE(shown.count(), 1);
        QCOMPARE(shown[0][0].toLongLong(), runs[1].run.id);
        QCOMPARE(shown[0][1].toLongLong(), runs[0].run.id);
        QVERIFY(view.showing_diff());
        QCOMPARE(view.divergence_token(), 10);
        view.findChild<QPushButton*>("compareBack")->click();
        QVERIFY(!view.showing_diff());
    }
};

QTEST_MAIN(TestCompareView)
#include "tst_compare_view.moc"
