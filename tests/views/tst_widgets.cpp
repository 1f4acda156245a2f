// View widgets whose preprocessing runs off the UI thread, offscreen: the
// latent map fits its PCA on a worker thread and shows the result later;
// bursts of changes coalesce into a fit on the latest tree.
#include <QDir>
#include <QPushButton>
#include <QScopeGuard>
#include <QScrollBar>
#include <QSignalSpy>
#include <QtTest>
#include <random>

#include "imgui/live_monitor.h"
#include "models/run_model.h"
#include "reasonscope/run_store.h"
#include "widgets/colours.h"
#include "widgets/latent_view.h"
#include "widgets/signals_view.h"
#include "widgets/theme.h"
#include "widgets/token_view.h"
#include "widgets/tree_view.h"

using namespace rs;

namespace {

// A root with two branches of `per` steps whose hidden states lie in two
// clusters far apart along one direction.
StoredRun two_clusters(int per, int dim) {
    StoredRun r;
    r.run.id = 1;
    r.tree.add(-1);
    std::mt19937 g(3);
    std::normal_distribution<float> noise(0.0f, 0.1f);
    for (int b = 0; b < 2; ++b) {
        int parent = 0;
        for (int i = 0; i < per; ++i) {
            const int id = r.tree.add(parent);
            Node& n = r.tree.at(id);
            n.hidden.resize(static_cast<size_t>(dim));
            for (auto& x : n.hidden) x = noise(g);
            n.hidden[0] += b == 0 ? 5.0f : -5.0f;
            n.correct = b == 0 ? 1 : 0;
            parent = id;
        }
    }
    return r;
}

// A chat-template run of a thinking model: node 1 is all thinking (one
// token forced by the budget), node 2 ends the thinking and answers, node 3
// (a sibling of 1) has no thinking. Every token has the same entropy.
StoredRun thinking_run() {
    StoredRun r;
    r.run.id = 2;
    r.run.prompt = "What is 2+3?\n";
    r.run.prompt_rendered = "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n";
    r.tree.add(-1);
    const auto add = [&](int parent, std::vector<std::tuple<std::string, bool, bool>> toks) {
        const int id = r.tree.add(parent);
        Node& n = r.tree.at(id);
        for (const auto& [piece, thinking, forced] : toks) {
            TokenRecord t;
            t.piece = piece;
            t.entropy = 0.8f;
            t.logprob = -0.3f;
            t.thinking = thinking;
            t.forced = forced;
            n.tokens.push_back(t);
            n.text += piece;
        }
        return id;
    };
    const int a = add(0, {{"<think>", true, false},
                          {"\nAdd", true, false},
                          {" two", true, false},
                          {" and three.", true, false},
                          {" Wait", true, true},
                          {", check: 2+3=5.\n", true, false}});
    const int b = add(a, {{"</think>", true, true},
                          {"\nThe answer is", false, false},
                          {" 5", false, false},
                          {".", false, false}});
    add(0, {{"The answer is 6.", false, false}});
    r.tree.at(b).answer = "5";
    r.tree.at(b).correct = 1;
    r.run.chosen_node = b;
    return r;
}

// A plain run whose tokens span the entropy scale (light to saturated).
StoredRun entropy_run() {
    StoredRun r;
    r.run.id = 3;
    r.run.prompt = "Q: 2+3?\n";
    r.tree.add(-1);
    const int id = r.tree.add(0);
    Node& n = r.tree.at(id);
    for (int i = 0; i < 8; ++i) {
        TokenRecord t;
        t.piece = " tok" + std::to_string(i);
        t.entropy = 0.4f * static_cast<float>(i);  // 0 .. 2.8: past the scale's end
        t.logprob = -0.5f;
        n.tokens.push_back(t);
        n.text += t.piece;
    }
    const int leaf = r.tree.add(id);
    r.tree.at(leaf).answer = "5";
    return r;
}

// The brightest luminance in `img` inside `r` (device pixels).
double brightest(const QImage& img, const QRect& r) {
    double best = 0;
    for (int y = std::max(0, r.top()); y <= std::min(img.height() - 1, r.bottom()); ++y)
        for (int x = std::max(0, r.left()); x <= std::min(img.width() - 1, r.right()); ++x)
            best = std::max(best, views::relative_luminance(img.pixelColor(x, y)));
    return best;
}

}  // namespace

class TestWidgets : public QObject {
    Q_OBJECT
  private slots:
    void latentMapFitsOffTheUiThread() {
        views::RunModel model;
        views::LatentView view(&model);
        view.resize(400, 300);
        QSignalSpy projected(&view, &views::LatentView::projected);
        StoredRun run = two_clusters(40, 256);
        model.load(run);
        QVERIFY(view.fitting());  // scheduled, not computed inside the change
        QCOMPARE(view.projected_count(), 0);
        QTRY_VERIFY_WITH_TIMEOUT(projected.count() >= 1, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(!view.fitting(), 20000);
        QCOMPARE(view.projected_count(), 80);
        QVERIFY(!view.grab().toImage().isNull());  // paints the projection

        // A burst of changes while fitting ends in a fit of the latest tree.
        for (int k = 0; k < 5; ++k) model.load(two_clusters(10 + k, 256));
        QTRY_VERIFY_WITH_TIMEOUT(!view.fitting() && view.projected_count() == 28, 20000);
    }

    // Issue #16: thinking tokens are italic on a faded band, forced ones bold
    // and underlined, each with its tooltip; the prompt is the rendered one.
    // The band shows in the painted pixels, and the tree marks thinking
    // nodes. Screenshots of both go to the build's screenshots folder.
    void thinkingIsShown() {
        views::RunModel model;
        views::TokenView view(&model);
        views::TreeView tree(&model);
        view.resize(560, 200);
        tree.resize(320, 240);
        model.load(thinking_run());
        QCOMPARE(view.token_count(), 10);
        QVERIFY(view.toPlainText().startsWith("<|im_start|>user\nWhat is 2+3?"));
        const QColor answer_bg = views::entropy_colour(0.8f);  // as the tokens hold it
        for (int i = 0; i < 7; ++i) {  // the thinking span, </think> included
            QVERIFY2(view.token_format(i).fontItalic(), qPrintable(QString::number(i)));
            QCOMPARE(view.token_colour(i), views::thinking_colour(answer_bg));
            QVERIFY(view.tooltip_for(i).contains("<i>thinking"));
        }
        for (int i = 7; i < 10; ++i) {
            QVERIFY(!view.token_format(i).fontItalic());
            QCOMPARE(view.token_colour(i), answer_bg);
            QVERIFY(!view.tooltip_for(i).contains("thinking"));
        }
        for (int i : {4, 6}) {  // " Wait" and "</think>"
            QCOMPARE(view.token_format(i).fontWeight(), int(QFont::Bold));
            QVERIFY(view.token_format(i).underlineStyle() != QTextCharFormat::NoUnderline);
            QVERIFY(view.tooltip_for(i).contains("forced by the thinking budget"));
        }
        QVERIFY(!view.tooltip_for(3).contains("forced"));

        // The pixels: the top row of a thinking token's box is the faded
        // band, of an answer token its entropy colour.
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QImage img = view.viewport()->grab().toImage();
        const auto band_pixels = [&](const QString& token, const QColor& want) {
            QTextCursor c(view.document());
            const int begin = view.toPlainText().indexOf(token);
            c.setPosition(begin + 1);
            const QRect r0 = view.cursorRect(c);
            c.setPosition(begin + 4);
            const QRect r1 = view.cursorRect(c);
            const qreal dpr = img.devicePixelRatio();
            int n = 0;
            for (int x = r0.left() + 2; x < r1.left() - 1; ++x)
                n += img.pixelColor(int(x * dpr), int((r0.top() + 1) * dpr)) == want ? 1 : 0;
            return n;
        };
        const QColor band = views::thinking_colour(answer_bg);
        QVERIFY(band_pixels(" two", band) > 5);
        QVERIFY(band_pixels("The answer is", answer_bg) > 5);
        QCOMPARE(band_pixels("The answer is", band), 0);

        QCOMPARE(tree.thinking_mark(0), 0);  // the prompt
        QCOMPARE(tree.thinking_mark(1), 2);  // all thinking
        QCOMPARE(tree.thinking_mark(2), 1);  // ends the thinking, then answers
        QCOMPARE(tree.thinking_mark(3), 0);

        const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
        QDir().mkpath(shots);
        QVERIFY(view.grab().save(shots + "/token-view-thinking.png"));
        tree.show();
        QVERIFY(QTest::qWaitForWindowExposed(&tree));
        tree.fit();
        QTest::qWait(50);
        QVERIFY(tree.grab().save(shots + "/tree-view-thinking.png"));
    }

    // The dark theme: the tree canvas is the palette's base (it stayed
    // white), token text reads on its entropy colour (it was the palette's
    // white on light colours) and disabled buttons are greyed (the palette
    // set every colour group alike). Checked on painted pixels.
    void darkThemeReads() {
        QApplication::setPalette(views::dark_palette());
        const auto restore = qScopeGuard([] { QApplication::setPalette(views::light_palette()); });
        const QColor base = views::dark_palette().color(QPalette::Base);
        views::RunModel model;
        views::TreeView tree(&model);
        views::TokenView tokens(&model);
        tree.resize(320, 240);
        tokens.resize(560, 160);
        model.load(entropy_run());
        model.select(1);
        tree.show();
        tokens.show();
        QVERIFY(QTest::qWaitForWindowExposed(&tree));
        QVERIFY(QTest::qWaitForWindowExposed(&tokens));
        tree.fit();
        QTest::qWait(50);

        const QImage canvas = tree.viewport()->grab().toImage();
        QCOMPARE(canvas.pixelColor(2, 2), base);  // a corner: no node there
        QCOMPARE(canvas.pixelColor(canvas.width() - 3, canvas.height() - 3), base);

        // Every token's text against its background: WCAG AA (4.5:1), and
        // in the pixels the glyphs are dark on the light colours.
        QCOMPARE(tokens.token_count(), 8);
        const QImage text = tokens.viewport()->grab().toImage();
        const qreal dpr = text.devicePixelRatio();
        for (int i = 0; i < tokens.token_count(); ++i) {
            const QTextCharFormat f = tokens.token_format(i);
            const QColor bg = tokens.token_colour(i);
            const QColor fg = f.foreground().style() == Qt::NoBrush
                                  ? tokens.palette().color(QPalette::Text)
                                  : f.foreground().color();
            const double ratio = views::contrast_ratio(fg, bg);
            QVERIFY2(ratio >= 4.5, qPrintable(QString("token %1: %2 on %3, contrast %4")
                                                  .arg(i)
                                                  .arg(fg.name(), bg.name())
                                                  .arg(ratio)));
            // The token's box: its darkest pixel is glyph ink, far darker than the box.
            QTextCursor c(tokens.document());
            const int begin = tokens.toPlainText().indexOf(QString(" tok%1").arg(i));
            c.setPosition(begin + 1);
            const QRect r0 = tokens.cursorRect(c);
            c.setPosition(begin + 5);
            const QRect r1 = tokens.cursorRect(c);
            const QRect box(QPoint(int(r0.left() * dpr) + 1, int(r0.top() * dpr) + 1),
                            QPoint(int(r1.left() * dpr) - 1, int(r0.bottom() * dpr) - 1));
            double darkest = 1;
            for (int y = box.top(); y <= box.bottom(); ++y)
                for (int x = box.left(); x <= box.right(); ++x)
                    darkest = std::min(darkest, views::relative_luminance(text.pixelColor(x, y)));
            QVERIFY2(darkest < 0.5 * views::relative_luminance(bg),
                     qPrintable(QString("token %1: no dark glyphs on %2").arg(i).arg(bg.name())));
        }

        // A disabled button's text is dimmer than an enabled one's.
        QPushButton on("Run"), off("Run");
        off.setEnabled(false);
        on.resize(90, 30);
        off.resize(90, 30);
        const QImage a = on.grab().toImage(), b = off.grab().toImage();
        const QRect mid(a.width() / 4, a.height() / 4, a.width() / 2, a.height() / 2);
        const double lit = brightest(a, mid), dim = brightest(b, mid);
        QVERIFY2(dim < 0.6 * lit, qPrintable(QString("enabled %1, disabled %2").arg(lit).arg(dim)));

        const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
        QDir().mkpath(shots);
        QVERIFY(tree.grab().save(shots + "/dark-tree.png"));
        QVERIFY(tokens.grab().save(shots + "/dark-tokens.png"));
        QVERIFY(a.save(shots + "/dark-button-enabled.png"));
        QVERIFY(b.save(shots + "/dark-button-disabled.png"));
    }

    // The live monitor's words: paused is not "running", a cancelled run is
    // not "finished", and a stored run without a known KV peak shows none
    // (it said "peak 0.0"). The text is what the widget draws.
    void monitorSaysTheRunsState() {
        views::RunModel model;
        QCOMPARE(views::monitor_state(model), QString("idle"));
        std::vector<RunEvent> ev{RunStarted{"p"}};
        NodeAdded root;
        root.node = 0;
        ev.push_back(root);
        model.apply(ev);
        QCOMPARE(views::monitor_state(model), QString("running"));
        QSignalSpy state(&model, &views::RunModel::stateChanged);
        model.set_paused(true);
        QCOMPARE(state.count(), 1);
        QCOMPARE(views::monitor_state(model), QString("paused"));
        QVERIFY(views::monitor_summary(model).startsWith("paused | "));
        model.set_paused(false);
        QCOMPARE(views::monitor_state(model), QString("running"));
        RunFinished done;
        done.status = "cancelled";
        done.metrics.kv_bytes = 2000000;
        done.metrics.kv_peak_bytes = 3000000;
        model.apply({done});
        QCOMPARE(views::monitor_state(model), QString("cancelled"));
        QVERIFY2(views::monitor_summary(model).contains("KV 2.0 MB (peak 3.0)"),
                 qPrintable(views::monitor_summary(model)));

        // Stored runs: their metric samples keep no peak; the row may.
        StoredRun r = entropy_run();
        r.run.status = "ok";
        RunMetrics m;
        m.kv_bytes = 1500000;
        r.metrics = {m};
        model.load(r);
        QCOMPARE(views::monitor_state(model), QString("stored run 3: finished"));
        QVERIFY2(!views::monitor_summary(model).contains("peak"),
                 qPrintable(views::monitor_summary(model)));
        r.run.kv_peak_bytes = 4200000;
        r.run.status = "error";
        model.load(r);
        QCOMPARE(views::monitor_state(model), QString("stored run 3: failed"));
        QVERIFY2(views::monitor_summary(model).contains("KV 1.5 MB (peak 4.2)"),
                 qPrintable(views::monitor_summary(model)));
    }

    void pcaSeparatesTheClusters() {
        StoredRun run = two_clusters(30, 64);
        std::vector<const std::vector<float>*> rows;
        for (const Node& n : run.tree.nodes())
            if (!n.hidden.empty()) rows.push_back(&n.hidden);
        auto pts = views::pca2(rows);
        QCOMPARE(pts.size(), size_t(60));
        const double a = pts[0].x();
        for (size_t i = 0; i < pts.size(); ++i) {
            const bool same = (i < 30);
            QVERIFY2((pts[i].x() * a > 0) == same, qPrintable(QString("point %1").arg(i)));
            QVERIFY(std::abs(pts[i].x()) > 4.0);  // the gap, not the noise
            QVERIFY(std::abs(pts[i].y()) < 1.5);
        }
    }

    // Issue #20: with n = 99 the answers were sorted as text and cut off
    // below the widget, hiding the winner. Most votes first (then weight),
    // and the list scrolls to its last answer.
    void answerVotesSortByVotesAndScroll() {
        StoredRun r;
        r.run.id = 1;
        r.tree.add(-1);
        auto leaf = [&](const std::string& answer, double score) {
            const int id = r.tree.add(0);
            r.tree.at(id).answer = answer;
            r.tree.at(id).scores["verifier"] = score;
        };
        for (int i = 10; i < 66; ++i) leaf(std::to_string(i), 0.1);  // 56 answers, one vote
        for (int i = 0; i < 39; ++i) leaf("7", 0.5);                 // the winner, last as text
        leaf("99", 0.1);  // ties with "98" on votes, loses on weight
        leaf("99", 0.1);
        leaf("98", 0.9);
        leaf("98", 0.9);
        QCOMPARE(r.tree.size(), 1 + 99);
        views::RunModel model;
        views::SignalsView view(&model);
        view.resize(520, 200);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        model.load(r);
        const auto votes = view.answer_votes();
        QCOMPARE(votes.size(), size_t(59));
        QCOMPARE(votes[0].answer, std::string("7"));
        QCOMPARE(votes[0].count, 39);
        QCOMPARE(votes[1].answer, std::string("98"));
        QCOMPARE(votes[2].answer, std::string("99"));
        QCOMPARE(votes[3].answer, std::string("10"));
        QVERIFY(view.visible_answer_rows() < 59);
        QVERIFY(!view.answer_scroll()->isHidden());
        QCOMPARE(view.answer_scroll()->maximum(), 59 - view.visible_answer_rows());
        view.answer_scroll()->setValue(view.answer_scroll()->maximum());
        QVERIFY(!view.grab().toImage().isNull());
        // A tall view shows every answer without a scroll bar.
        view.resize(520, 18 * 70);
        QVERIFY(view.answer_scroll()->isHidden());
    }

    // Issue #20: a wheel zoom stuck to the view for every later run. A run
    // opened or started after a zoom is fit to the view again.
    void treeZoomResetsForEachRun() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(400, 300);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        model.load(two_clusters(30, 4));
        const QTransform fitted = view.transform();
        const QPoint mid = view.viewport()->rect().center();
        QWheelEvent wheel(mid, view.viewport()->mapToGlobal(mid), QPoint(), QPoint(0, 480),
                          Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(view.viewport(), &wheel);
        QVERIFY(view.user_zoomed());
        QVERIFY(view.transform() != fitted);
        // An opened run is fit.
        model.load(two_clusters(30, 4));
        QVERIFY(!view.user_zoomed());
        QCOMPARE(view.transform(), fitted);
        // A live run that starts after a zoom is fit as it grows.
        QApplication::sendEvent(view.viewport(), &wheel);
        QVERIFY(view.user_zoomed());
        std::vector<RunEvent> ev{RunStarted{"p"}};
        NodeAdded root;
        root.node = 0;
        ev.push_back(root);
        for (int i = 1; i < 40; ++i) {
            NodeAdded n;
            n.node = i;
            n.parent = i < 20 ? 0 : i - 1;
            ev.push_back(n);
        }
        model.apply(ev);
        QVERIFY(!view.user_zoomed());
        const QTransform grown = view.transform();
        view.fit();
        QCOMPARE(view.transform(), grown);  // already fit
    }
};

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
