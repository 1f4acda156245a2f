// View widgets whose preprocessing runs off the UI thread, offscreen: the
// latent map fits its PCA on a worker thread and shows the result later;
// bursts of changes coalesce into a fit on the latest tree.
#include <QDir>
#include <QMenu>
#include <QPushButton>
#include <QScopeGuard>
#include <QScrollBar>
#include <QSignalSpy>
#include <QToolTip>
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
#include "widgets/tree_legend.h"
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

// A self-consistency run: `chains` samples of 6..10 steps under the prompt,
// each step's text distinct (unless `shared_first`: every chain opens with
// the same step), an answer on each leaf, half of them right.
StoredRun chains_run(int chains, bool shared_first = false) {
    StoredRun r;
    r.run.id = 4;
    r.run.prompt = "Q: 17*23?\n";
    r.tree.add(-1);
    for (int c = 0; c < chains; ++c) {
        int parent = 0;
        const int steps = 6 + c % 5;
        for (int s = 0; s < steps; ++s) {
            const int id = r.tree.add(parent);
            Node& n = r.tree.at(id);
            n.text = shared_first && s == 0
                         ? "Let me multiply step by step."
                         : "chain " + std::to_string(c) + " step " + std::to_string(s);
            n.status = s + 1 == steps ? NodeStatus::Terminal : NodeStatus::Expanded;
            TokenRecord t;
            t.piece = n.text;
            t.entropy = 0.1f * static_cast<float>((c + s) % 25);
            t.logprob = -0.2f;
            n.tokens.push_back(t);
            n.scores["prm"] = 0.01 * ((c * 7 + s * 13) % 100);
            parent = id;
        }
        r.tree.at(parent).answer = c % 2 ? "391" : "381";
        r.tree.at(parent).correct = c % 2;
    }
    return r;
}

// The viewport positions' spread of every node: (width, height).
QSizeF spread(const views::TreeView& view, int nodes) {
    double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    for (int i = 0; i < nodes; ++i) {
        const QPoint p = view.mapFromScene(view.node_pos(i));
        x0 = std::min(x0, double(p.x()));
        x1 = std::max(x1, double(p.x()));
        y0 = std::min(y0, double(p.y()));
        y1 = std::max(y1, double(p.y()));
    }
    return QSizeF(x1 - x0, y1 - y0);
}

// Pixels of `img` inside `r` (logical pixels) within `tol` of `want` per channel.
int pixels_like(const QImage& img, const QRect& r, const QColor& want, int tol = 8) {
    const qreal dpr = img.devicePixelRatio();
    int n = 0;
    for (int y = int(r.top() * dpr); y <= int(r.bottom() * dpr); ++y)
        for (int x = int(r.left() * dpr); x <= int(r.right() * dpr); ++x) {
            if (x < 0 || y < 0 || x >= img.width() || y >= img.height()) continue;
            const QColor c = img.pixelColor(x, y);
            n += std::abs(c.red() - want.red()) <= tol &&
                         std::abs(c.green() - want.green()) <= tol &&
                         std::abs(c.blue() - want.blue()) <= tol
                     ? 1
                     : 0;
        }
    return n;
}

// Pixels of `img` inside `r` that differ from `bg` (text, marks).
int pixels_unlike(const QImage& img, const QRect& r, const QColor& bg) {
    const QRect all = r.intersected(img.rect());
    return all.width() * all.height() - pixels_like(img, all, bg, 24);
}

QString shots_dir() {
    const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
    QDir().mkpath(shots);
    return shots;
}

}  // namespace

// Runs and input for the linked analysis views (signals plot, latent map).
namespace linked {

// `coords` are 2D points embedded in 16 dimensions along two orthonormal
// directions, so that PCA recovers them (up to sign): one node per point
// under the root, with a step text.
StoredRun plane_run(const std::vector<QPointF>& coords) {
    StoredRun r;
    r.run.id = 5;
    r.tree.add(-1);
    const float s = 1.0f / std::sqrt(2.0f);
    for (size_t i = 0; i < coords.size(); ++i) {
        const int id = r.tree.add(0);
        Node& n = r.tree.at(id);
        n.text = "Step " + std::to_string(id) + ": compute the partial sums and carry the tens";
        n.hidden.assign(16, 0.25f);  // an offset the mean removes
        n.hidden[0] += s * static_cast<float>(coords[i].x() + coords[i].y());
        n.hidden[1] += s * static_cast<float>(coords[i].x() - coords[i].y());
    }
    return r;
}

// A beam-like run for the pictures: 4 branches of 6 steps from the root,
// 6 .. 17 tokens a step with varied signals, hidden states drifting apart
// per branch, an answer on each leaf (two right, two wrong).
StoredRun branchy_run() {
    StoredRun r;
    r.run.id = 6;
    r.run.prompt = "Q: 17*23?\n";
    r.run.expected = "391";
    const int root = r.tree.add(-1);
    r.tree.at(root).hidden.assign(32, 0.0f);
    std::mt19937 g(7);
    std::normal_distribution<float> noise(0.0f, 0.3f);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int b = 0; b < 4; ++b) {
        int parent = root;
        std::vector<float> h(32, 0.0f);
        for (int s = 0; s < 6; ++s) {
            const int id = r.tree.add(parent);
            Node& n = r.tree.at(id);
            n.text = "branch " + std::to_string(b) + " step " + std::to_string(s + 1) +
                     ": 17 times 20 is 340, and 17 times 3 is 51";
            const int k = 6 + (b * 5 + s * 3) % 12;
            for (int i = 0; i < k; ++i) {
                TokenRecord t;
                t.piece = " w" + std::to_string(i);
                const float spike = (i == 0 && s > 0) ? 1.6f : 0.0f;  // steps open unsure
                t.entropy = 0.2f + 0.9f * u(g) * u(g) + spike;
                t.varentropy = 0.6f * t.entropy * (0.5f + u(g));
                t.logprob = -t.entropy * u(g);
                n.tokens.push_back(t);
            }
            for (size_t j = 0; j < h.size(); ++j) h[j] += noise(g);
            h[static_cast<size_t>(b % 2)] += b < 2 ? 1.0f : -1.0f;
            h[2] += 0.4f * static_cast<float>(b - 1);
            n.hidden = h;
            parent = id;
        }
        r.tree.at(parent).answer = b % 2 ? "381" : "391";
        r.tree.at(parent).correct = b % 2 ? 0 : 1;
    }
    r.run.chosen_node = r.tree.size() - 1;
    return r;
}

// A trace of two steps (5 tokens each) and a sibling of the second: the
// tokens' values are known (entropy 0.5 i, varentropy 0.25 i, logprob -0.1 i
// for the trace's i-th token).
StoredRun two_step_run() {
    StoredRun r;
    r.run.id = 7;
    r.tree.add(-1);
    const int a = r.tree.add(0), b = r.tree.add(a), c = r.tree.add(a);
    int i = 0;
    for (int id : {a, b}) {
        for (int k = 0; k < 5; ++k, ++i) {
            TokenRecord t;
            t.piece = " t" + std::to_string(i);
            t.entropy = 0.5f * static_cast<float>(i);
            t.varentropy = 0.25f * static_cast<float>(i);
            t.logprob = -0.1f * static_cast<float>(i);
            r.tree.at(id).tokens.push_back(t);
        }
    }
    TokenRecord t;
    t.piece = " other";
    r.tree.at(c).tokens.push_back(t);
    r.run.chosen_node = b;
    return r;
}

void mouse(QWidget* w, QEvent::Type type, const QPointF& at, Qt::MouseButton button,
           Qt::MouseButtons buttons) {
    QMouseEvent e(type, at, w->mapToGlobal(at), button, buttons, Qt::NoModifier);
    QApplication::sendEvent(w, &e);
}
void click(QWidget* w, const QPointF& at) {
    mouse(w, QEvent::MouseButtonPress, at, Qt::LeftButton, Qt::LeftButton);
    mouse(w, QEvent::MouseButtonRelease, at, Qt::LeftButton, Qt::NoButton);
}
void hover(QWidget* w, const QPointF& at) {
    mouse(w, QEvent::MouseMove, at, Qt::NoButton, Qt::NoButton);
}
void wheel(QWidget* w, const QPointF& at, int delta) {
    QWheelEvent e(at, w->mapToGlobal(at), QPoint(), QPoint(0, delta), Qt::NoButton, Qt::NoModifier,
                  Qt::NoScrollPhase, false);
    QApplication::sendEvent(w, &e);
}

}  // namespace linked

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
    // Issue: the tree as an analysis view. A self-consistency run of 100
    // chains fills the view after fit in both directions (it was a thin
    // strip), and a long run is fit at a readable zoom from its top.
    void treeLayoutFillsTheView() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(1200, 800);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        model.load(chains_run(100));
        const QSize vp = view.viewport()->size();
        const QSizeF s = spread(view, model.tree().size());
        QVERIFY2(s.width() > 0.85 * vp.width() && s.height() > 0.7 * vp.height(),
                 qPrintable(QString("spread %1 x %2 in %3 x %4")
                                .arg(s.width())
                                .arg(s.height())
                                .arg(vp.width())
                                .arg(vp.height())));
        for (int i = 0; i < model.tree().size(); ++i)  // and all of it on screen
            QVERIFY(view.viewport()->rect().contains(view.mapFromScene(view.node_pos(i))));
        QVERIFY(view.grab().save(shots_dir() + "/tree-sc-100.png"));

        // 64 chains in a smaller view, opened after the first: fit again.
        view.resize(900, 600);
        model.load(chains_run(64));
        const QSizeF s64 = spread(view, model.tree().size());
        QVERIFY(s64.width() > 0.85 * view.viewport()->width());
        QVERIFY(s64.height() > 0.7 * view.viewport()->height());

        // Three chains of 60 steps: readable (zoom 1), spread across
        // the width, the prompt on screen; the rest scrolls.
        StoredRun longer;
        longer.tree.add(-1);
        for (int c = 0; c < 3; ++c)
            for (int s = 0, parent = 0; s < 60; ++s) {
                parent = longer.tree.add(parent);
                longer.tree.at(parent).text = "c" + std::to_string(c) + "s" + std::to_string(s);
            }
        model.load(longer);
        QVERIFY2(view.transform().m11() >= 0.5,
                 qPrintable(QString::number(view.transform().m11())));
        QVERIFY(view.viewport()->rect().contains(view.mapFromScene(view.node_pos(0))));
        QVERIFY(spread(view, longer.tree.size()).width() > 0.4 * view.viewport()->width());
        QVERIFY(view.verticalScrollBar()->maximum() > 0);
        QTRY_VERIFY(view.verticalScrollBar()->isVisible());
        QVERIFY(view.viewport()->rect().contains(view.mapFromScene(view.node_pos(0))));
        QCOMPARE(view.transform().m11(), 1.0);
        QVERIFY(view.grab().save(shots_dir() + "/tree-long.png"));
    }

    // Hover: the tooltip shows the step's text, status, scores, signals and answer.
    void treeHoverShowsTheStep() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(800, 500);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        StoredRun r = thinking_run();
        r.tree.at(2).scores["prm"] = 0.875;
        r.tree.at(2).visits = 4;
        r.tree.at(2).value_sum = 3;
        model.load(r);
        const QString h = view.hover_text(2);
        for (const char* want : {"The answer is 5.", "prm", "0.875", "mean entropy", "0.800",
                                 "visits", "0.750", "correct", "step 2"})
            QVERIFY2(h.contains(want), qPrintable(want + QString(" not in ") + h));
        QVERIFY(view.hover_text(1).contains("<i style"));  // thinking in italics

        // The tooltip itself, from a help event over the node.
        const QPoint at = view.mapFromScene(view.node_pos(2));
        QCOMPARE(view.node_at(at), 2);
        QCOMPARE(view.node_at(at + QPoint(200, 200)), -1);
        QHelpEvent help(QEvent::ToolTip, at, view.viewport()->mapToGlobal(at));
        QApplication::sendEvent(view.viewport(), &help);
        QTRY_VERIFY(QToolTip::isVisible());
        QVERIFY(QToolTip::text().contains("0.875"));
        QToolTip::hideText();
    }

    // Keyboard: Up parent, Down first child (or back along the path the
    // selection came up), Left/Right siblings, Home root; through the model.
    void treeKeyboardMovesTheSelection() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(600, 400);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        StoredRun r;
        r.tree.add(-1);
        for (int p : {0, 0, 1, 1, 2}) {  // 1, 2 under the root; 3, 4 under 1; 5 under 2
            const int id = r.tree.add(p);
            r.tree.at(id).text = "step " + std::to_string(id);
        }
        model.load(r);
        QSignalSpy sel(&model, &views::RunModel::selectionChanged);
        const auto key = [&](Qt::Key k) {
            QTest::keyClick(&view, k);
            return model.selected();
        };
        QCOMPARE(model.selected(), 5);  // an opened run selects its last node
        QCOMPARE(key(Qt::Key_Home), 0);
        QCOMPARE(key(Qt::Key_Down), 2);  // down the selected path
        QCOMPARE(key(Qt::Key_Down), 5);
        QCOMPARE(key(Qt::Key_Down), 5);  // a leaf
        QCOMPARE(key(Qt::Key_Up), 2);
        QCOMPARE(key(Qt::Key_Left), 1);
        QCOMPARE(key(Qt::Key_Left), 1);  // the first sibling
        QCOMPARE(key(Qt::Key_Down), 3);  // the first child
        QCOMPARE(key(Qt::Key_Right), 4);
        QCOMPARE(key(Qt::Key_Right), 4);  // the last sibling
        QCOMPARE(key(Qt::Key_Up), 1);
        QCOMPARE(key(Qt::Key_Down), 4);  // back to where it came from
        QCOMPARE(key(Qt::Key_Left), 3);
        QCOMPARE(key(Qt::Key_Up), 1);
        QCOMPARE(key(Qt::Key_Right), 2);
        QCOMPARE(key(Qt::Key_Up), 0);
        QCOMPARE(key(Qt::Key_Up), 0);
        QVERIFY(sel.count() >= 13);

        // Down a long chain at a zoom: the selection stays on screen.
        StoredRun chain;
        chain.tree.add(-1);
        for (int s = 0; s < 80; ++s) chain.tree.at(chain.tree.add(s)).text = std::to_string(s);
        model.load(chain);
        view.setTransform(QTransform::fromScale(1.5, 1.5));
        QCOMPARE(key(Qt::Key_Home), 0);
        for (int s = 1; s <= 80; ++s) {
            QCOMPARE(key(Qt::Key_Down), s);
            QVERIFY2(view.viewport()->rect().contains(view.mapFromScene(view.node_pos(s))),
                     qPrintable(QString::number(s)));
        }
    }

    // Collapse: Space (or the context menu) folds the selected subtree into
    // its root, drawn with a +n badge; again unfolds it.
    void treeCollapseHidesTheSubtree() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(700, 450);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        model.load(chains_run(6));
        const int all = model.tree().size();
        QCOMPARE(view.shown_count(), all);
        const int first = model.tree().at(0).children[0];  // chain 0: 6 steps
        model.select(first);
        QTest::keyClick(&view, Qt::Key_Space);
        QVERIFY(view.collapsed(first));
        QCOMPARE(view.hidden_count(first), 5);
        QCOMPARE(view.shown_count(), all - 5);
        const int leaf = first + 5;
        QCOMPARE(view.shown_as(leaf), first);
        QCOMPARE(view.node_pos(leaf), view.node_pos(first));
        QVERIFY(view.hover_text(first).contains("hides 5 nodes"));
        QTest::qWait(20);
        const QImage img = view.viewport()->grab().toImage();
        const QPoint at = view.mapFromScene(view.node_pos(first));
        QVERIFY(pixels_like(img, QRect(at + QPoint(0, -20), QSize(30, 20)),
                            views::collapsed_badge_colour()) > 20);
        QVERIFY(view.grab().save(shots_dir() + "/tree-collapsed.png"));
        QTest::keyClick(&view, Qt::Key_C);
        QVERIFY(!view.collapsed(first));
        QCOMPARE(view.shown_count(), all);

        // The context menu folds the node it was opened on.
        const int second = model.tree().at(0).children[1];
        std::unique_ptr<QMenu> menu(view.context_menu_for(second));
        QVERIFY(menu->actions().first()->text().startsWith("Collapse"));
        menu->actions().first()->trigger();
        QVERIFY(view.collapsed(second));
        QCOMPARE(view.shown_count(), all - 6);
        // A new run starts unfolded.
        model.load(chains_run(6));
        QCOMPARE(view.shown_count(), all);
    }

    // Identical sibling steps are drawn as one node with a ×k badge; their
    // subtrees hang under it; selecting it selects the representative.
    void treeGroupsIdenticalSiblings() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(900, 600);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        StoredRun run = chains_run(12, true);
        run.tree.at(run.tree.at(0).children[0]).status = NodeStatus::Pruned;  // one of the 12
        model.load(run);
        const ReasoningTree& t = model.tree();
        const int rep = t.at(0).children[0];
        QCOMPARE(view.group_size(rep), 12);
        QCOMPARE(view.group_members(rep),
                 std::vector<int>(t.at(0).children.begin(), t.at(0).children.end()));
        for (int c : t.at(0).children) QCOMPARE(view.shown_as(c), rep);
        QCOMPARE(view.shown_count(), t.size() - 11);
        // The chains' second steps hang under the group, spread apart.
        QCOMPARE(view.node_pos(t.at(0).children[5] + 1).y(), view.node_pos(rep).y() * 2);
        QVERIFY(view.node_pos(t.at(0).children[5] + 1) != view.node_pos(t.at(0).children[6] + 1));
        const QPoint at = view.mapFromScene(view.node_pos(rep));
        QCOMPARE(view.node_at(at), rep);
        model.select(0);
        QTest::keyClick(&view, Qt::Key_Down);
        QCOMPARE(model.selected(), rep);
        QVERIFY(view.hover_text(rep).contains("×12 identical"));
        QTest::qWait(20);
        const QImage img = view.viewport()->grab().toImage();
        QVERIFY(pixels_like(img, QRect(at + QPoint(0, -20), QSize(30, 20)),
                            views::group_badge_colour()) > 20);
        // Drawn alive: one pruned step does not grey the group.
        QVERIFY(view.hover_text(rep).contains("1 of them pruned"));
        QCOMPARE(pixels_like(img, QRect(at - QPoint(3, 3), QSize(7, 7)), views::pruned_fill(), 4),
                 0);
        QVERIFY(view.grab().save(shots_dir() + "/tree-grouped.png"));
        // Off: every step is its own node.
        QTest::keyClick(&view, Qt::Key_G);
        QVERIFY(!view.grouping());
        QCOMPARE(view.shown_count(), t.size());
        QCOMPARE(view.group_size(rep), 1);
    }

    // The legend shows the current colouring's scale with its numbers and
    // the marks, on the palette's base in the light and the dark theme.
    void treeLegendFollowsColouringAndTheme() {
        for (const bool dark : {false, true}) {
            QApplication::setPalette(dark ? views::dark_palette() : views::light_palette());
            const auto restore =
                qScopeGuard([] { QApplication::setPalette(views::light_palette()); });
            views::RunModel model;
            views::TreeView view(&model);
            view.resize(900, 600);
            view.show();
            QVERIFY(QTest::qWaitForWindowExposed(&view));
            model.load(chains_run(20));
            views::TreeLegend* legend = view.legend();
            QVERIFY(legend->isVisible());
            QVERIFY(legend->title().contains("entropy"));
            const QImage img = legend->grab().toImage();
            const QRect bar = legend->scale_rect();
            for (double f : {0.0, 0.25, 0.5, 0.75, 1.0}) {
                const int x = bar.left() + int(std::lround(f * (bar.width() - 1)));
                const QColor want = views::entropy_colour(f * legend->scale_max());
                QCOMPARE(pixels_like(img, QRect(x, bar.center().y(), 1, 1), want, 3), 1);
            }
            // Its background is the theme's base; its words are the theme's text.
            const QColor base = legend->palette().color(QPalette::Base);
            const double lum =
                views::relative_luminance(img.pixelColor(img.width() - 6, bar.top() - 2));
            QVERIFY2(dark ? lum < 0.05 : lum > 0.8, qPrintable(QString::number(lum)));
            const QRect words(bar.right() + 20, 4, img.width() - bar.right() - 28,
                              img.height() - 8);
            QVERIFY(pixels_unlike(img, words, base) > 200);
            double ink = dark ? 0 : 1;
            for (int y = words.top(); y < words.bottom(); ++y)
                for (int x = words.left(); x < words.right(); ++x) {
                    const double l = views::relative_luminance(img.pixelColor(x, y));
                    ink = dark ? std::max(ink, l) : std::min(ink, l);
                }
            QVERIFY2(dark ? ink > 0.6 : ink < 0.1, qPrintable(QString::number(ink)));
            // The legend is a strip under the tree, not over it.
            const QRect vp = view.viewport()->geometry();
            QVERIFY(!vp.intersects(legend->geometry()));
            QCOMPARE(legend->geometry().top(), vp.bottom() + 1);
            QCOMPARE(legend->width(), vp.width());
            QVERIFY(legend->height() < view.height() / 3);
            QVERIFY(view.grab().save(shots_dir() +
                                     (dark ? "/tree-legend-dark.png" : "/tree-legend-light.png")));

            // By score: the key, the run's range and the score scale.
            view.set_colour_by(views::TreeView::ColourBy::Score);
            QVERIFY2(legend->title().contains("prm") && legend->title().contains("0–0.99"),
                     qPrintable(legend->title()));
            const QImage sc = legend->grab().toImage();
            const int mid = bar.left() + (bar.width() - 1) / 2;
            QCOMPARE(
                pixels_like(sc, QRect(mid, bar.center().y(), 1, 1),
                            views::score_colour(0.5 * (bar.width() - 1) / (bar.width() - 1)), 3),
                1);
            QVERIFY(legend->content().score_min == 0.0 && legend->content().score_max == 0.99);
            view.set_legend_visible(false);
            QVERIFY(legend->isHidden());
            QCOMPARE(view.viewport()->height(), view.contentsRect().height());
        }
    }

    // Strategy records are written on the nodes when zoomed in: MCTS visits
    // and value, particle weight and copies, why a node was pruned; far out
    // they are left to the tooltip (level of detail).
    void treeAnnotatesStrategyRecords() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(900, 500);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        StoredRun r;
        r.tree.add(-1);
        const int mcts = r.tree.add(0), particle = r.tree.add(0), cut = r.tree.add(0),
                  plain = r.tree.add(0);
        r.tree.at(mcts).visits = 12;
        r.tree.at(mcts).value_sum = 6;
        r.tree.at(particle).scores["particle_weight"] = 0.25;
        r.tree.at(particle).scores["resample_copies"] = 3;
        r.tree.at(cut).status = NodeStatus::Pruned;
        r.tree.at(cut).scores["pruned_rank"] = 4;
        r.tree.at(cut).scores["pruned_at_step"] = 2;
        for (int i = 1; i <= 4; ++i) r.tree.at(i).text = "s" + std::to_string(i);
        model.load(r);
        QCOMPARE(view.annotation(mcts), QString("N 12 · Q 0.50"));
        QCOMPARE(view.annotation(particle), QString("w 0.25 · 3 copies"));
        QCOMPARE(view.annotation(cut), QString("cut rank 4 · at step 2"));
        QCOMPARE(view.annotation(plain), QString());
        const auto content = view.legend()->content();
        QVERIFY(content.mcts && content.particles && content.pruning);
        view.set_legend_visible(false);
        // Zoomed in: words under the annotated nodes, none under the plain one.
        const QColor base = view.palette().color(QPalette::Base);
        const auto words_under = [&](int node) {
            const QImage img = view.viewport()->grab().toImage();
            const QPoint at = view.mapFromScene(view.node_pos(node));
            const double z = view.transform().m11();
            return pixels_unlike(
                img, QRect(at.x() - int(10 * z), at.y() + int(11 * z), int(20 * z), 30), base);
        };
        // The user zooms (the wheel), to 3:1.
        const QPoint mid = view.viewport()->rect().center();
        QWheelEvent wheel(mid, view.viewport()->mapToGlobal(mid), QPoint(), QPoint(0, 120),
                          Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(view.viewport(), &wheel);
        QVERIFY(view.user_zoomed());
        view.setTransform(QTransform::fromScale(2, 2));
        view.centerOn((view.node_pos(mcts) + view.node_pos(cut)) / 2);
        QTest::qWait(20);
        for (int n : {mcts, particle, cut}) {
            QVERIFY(view.viewport()->rect().contains(view.mapFromScene(view.node_pos(n))));
            QVERIFY2(words_under(n) > 15, qPrintable(QString::number(n)));
        }
        view.centerOn(view.node_pos(plain));
        QTest::qWait(20);
        QCOMPARE(words_under(plain), 0);
        view.centerOn((view.node_pos(mcts) + view.node_pos(cut)) / 2);
        QTest::qWait(20);
        QVERIFY(view.grab().save(shots_dir() + "/tree-records.png"));
        // Far out: no words (a zoom where they would not fit).
        view.setTransform(QTransform::fromScale(0.4, 0.4));
        view.centerOn(view.node_pos(particle));
        QTest::qWait(20);
        QCOMPARE(words_under(mcts), 0);
    }

    // A counterfactual branch grafted onto a run's tree (nodes carrying the
    // "counterfactual_run" score) is drawn with dashed orange edges, said in
    // the legend; the rest of the tree keeps its plain edges; the hover
    // gives a step's wall time.
    void treeMarksAGraftedCounterfactual() {
        views::RunModel model;
        views::TreeView view(&model);
        view.resize(700, 420);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        StoredRun r;
        r.tree.add(-1);
        const int a = r.tree.add(0), b = r.tree.add(0);
        const int a2 = r.tree.add(a), b2 = r.tree.add(b);
        for (int i = 1; i <= 4; ++i) r.tree.at(i).text = "step " + std::to_string(i);
        r.tree.at(b).scores["counterfactual_run"] = 7;
        r.tree.at(b2).scores["counterfactual_run"] = 7;
        r.tree.at(a).started_at = 0.5;
        r.tree.at(a).ended_at = 0.75;
        TokenRecord t;
        t.piece = "x";
        r.tree.at(a).tokens.push_back(t);
        model.load(r);
        view.fit();
        QTest::qWait(20);
        QVERIFY(view.legend()->content().counterfactual);
        QVERIFY(view.hover_text(a).contains("wall time") && view.hover_text(a).contains("0.250 s"));
        QVERIFY(!view.hover_text(b).contains("wall time"));
        const QImage img = view.viewport()->grab().toImage();
        const auto orange_between = [&](int from, int to) {
            const QPoint p = view.mapFromScene(view.node_pos(from)),
                         q = view.mapFromScene(view.node_pos(to));
            const QRect box = QRect(p, q).normalized().adjusted(-3, 8, 3, -8);
            int n = 0;
            for (int y = box.top(); y <= box.bottom(); ++y)
                for (int x = box.left(); x <= box.right(); ++x) {
                    const QColor c = img.pixelColor(x, y);
                    n += c.red() > 150 && c.green() > 60 && c.green() < 150 && c.blue() < 90;
                }
            return n;
        };
        QVERIFY2(orange_between(b, b2) > 5, "the grafted edge is not orange");
        QCOMPARE(orange_between(a, a2), 0);
        QVERIFY(view.grab().save(shots_dir() + "/tree-counterfactual.png"));
        r.tree.at(b).scores.clear();
        r.tree.at(b2).scores.clear();
        model.load(r);
        QVERIFY(!view.legend()->content().counterfactual);
    }

    // Linked views: the latent map's axes name their component and the
    // share of the variance it explains, computed where the PCA is; ticks
    // at round numbers in the projection's units.
    void latentMapAxesNameTheirVariance() {
        views::RunModel model;
        views::LatentView view(&model);
        view.resize(430, 220);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy projected(&view, &views::LatentView::projected);
        // Points on a line: the first component explains all of it.
        std::vector<QPointF> line;
        for (int i = 0; i < 7; ++i) line.emplace_back(0.5 * i, 0.25 * i);
        model.load(linked::plane_run(line));
        QTRY_VERIFY_WITH_TIMEOUT(projected.count() >= 1 && !view.fitting(), 20000);
        QVERIFY2(view.explained(0) > 0.9999, qPrintable(QString::number(view.explained(0))));
        QVERIFY(view.explained(1) < 1e-6);
        view.grab();
        QCOMPARE(view.drawn().x_title, QString("PC1 (100.0% var.)"));
        QCOMPARE(view.drawn().y_title, QString("PC2 (0.0% var.)"));

        // A cross: variance 18 along one axis and 2 along the other.
        projected.clear();
        model.load(linked::plane_run({{3, 0}, {-3, 0}, {0, 1}, {0, -1}}));
        QTRY_VERIFY_WITH_TIMEOUT(projected.count() >= 1 && !view.fitting(), 20000);
        QVERIFY(std::abs(view.explained(0) - 0.9) < 1e-4);
        QVERIFY(std::abs(view.explained(1) - 0.1) < 1e-4);
        const QImage img = view.grab().toImage();
        const auto& d = view.drawn();
        QCOMPARE(d.x_title, QString("PC1 (90.0% var.)"));
        QCOMPARE(d.y_title, QString("PC2 (10.0% var.)"));
        QCOMPARE(d.x_ticks, QStringList({"-2", "0", "2"}));
        QCOMPARE(d.y_ticks, QStringList({"-1.0", "-0.5", "0.0", "0.5", "1.0"}));
        // The points sit where the ticks say: (±3, 0) and (0, ±1), up to sign.
        QPointF a, b, c;
        QVERIFY(view.node_pos(1, &a) && view.node_pos(2, &b) && view.node_pos(3, &c));
        const QRectF plot = view.plot_rect();
        const double x_per_unit = plot.width() / view.visible().width();
        QVERIFY(std::abs(std::abs(a.x() - b.x()) - 6 * x_per_unit) < 1);
        QVERIFY(std::abs(a.y() - b.y()) < 1);
        QVERIFY(std::abs((a.x() + b.x()) / 2 - c.x()) < 1);
        // Words are drawn below the axis (tick labels, title) and left of it.
        const QColor base = view.palette().color(QPalette::Base);
        QVERIFY(pixels_unlike(
                    img, QRect(int(plot.left()), int(plot.bottom()) + 5, int(plot.width()), 28),
                    base) > 100);
        QVERIFY(pixels_unlike(img,
                              QRect(0, int(plot.top()), int(plot.left()) - 6, int(plot.height())),
                              base) > 100);
        QVERIFY(d.legend.isEmpty() || d.legend.contains("selected trace"));
        QVERIFY(view.grab().save(shots_dir() + "/latent-cross.png"));
    }

    // Linked views: clicking a point of the latent map selects its node in
    // the RunModel; hover names the node, its step and coordinates; a node
    // selected elsewhere highlights its trace and is scrolled into a zoomed
    // view; the wheel zooms, a drag pans, a double-click resets.
    void latentMapLinksToTheSelection() {
        views::RunModel model;
        views::LatentView view(&model);
        view.resize(430, 220);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy projected(&view, &views::LatentView::projected);
        model.load(linked::plane_run({{3, 0}, {-3, 0}, {0, 1}, {0, -1}}));
        QTRY_VERIFY_WITH_TIMEOUT(projected.count() >= 1 && !view.fitting(), 20000);
        QCOMPARE(model.selected(), 4);  // an opened run selects its last node
        QPointF at;
        QVERIFY(view.node_pos(2, &at));
        QCOMPARE(view.node_at(at + QPointF(3, -2)), 2);
        linked::click(&view, at + QPointF(3, -2));
        QCOMPARE(model.selected(), 2);
        QCOMPARE(view.trace_leaf(), 2);
        // The selected point is drawn in the trace's colour.
        QImage img = view.grab().toImage();
        const QColor sel = views::plot_colour(views::PlotInk::Selected, view.palette());
        QVERIFY(pixels_like(img, QRect(at.toPoint() - QPoint(1, 1), QSize(3, 3)), sel, 30) >= 4);
        QVERIFY(view.node_pos(1, &at));
        QCOMPARE(pixels_like(img, QRect(at.toPoint() - QPoint(1, 1), QSize(3, 3)), sel, 30), 0);
        // Away from every point: nothing selected by a click.
        linked::click(&view, view.plot_rect().topLeft() + QPointF(2, 2));
        QCOMPARE(model.selected(), 2);

        // Hover.
        QVERIFY(view.node_pos(3, &at));
        linked::hover(&view, at);
        QCOMPARE(view.hovered(), 3);
        view.grab();
        const QString h = view.drawn().hover;
        QVERIFY2(h.startsWith("node 3 · step 1") && h.contains("Step 3: compute the") &&
                     h.contains("…") && h.contains("PC1") && h.contains("PC2"),
                 qPrintable(h));
        QCOMPARE(h, view.hover_text(3));
        QVERIFY(view.grab().save(shots_dir() + "/latent-hover.png"));

        // Zoom in on node 1 with the wheel: node 2 (far side) leaves the view;
        // selecting it in the model brings it back.
        QVERIFY(view.node_pos(1, &at));
        const QRectF all = view.visible();
        for (int k = 0; k < 4; ++k) linked::wheel(&view, at, 120);
        QVERIFY(view.zoomed());
        QVERIFY(view.visible().width() < 0.5 * all.width());
        QVERIFY(view.node_pos(2, &at));
        QVERIFY(!view.plot_rect().contains(at));
        model.select(1);
        model.select(2);
        QVERIFY(view.node_pos(2, &at));
        QVERIFY(view.grab().save(shots_dir() + "/latent-zoomed.png"));
        QVERIFY2(view.plot_rect().contains(at),
                 qPrintable(QString("%1,%2").arg(at.x()).arg(at.y())));
        // A drag pans (and selects nothing).
        const QRectF before = view.visible();
        const QPointF mid = view.plot_rect().center();
        linked::mouse(&view, QEvent::MouseButtonPress, mid, Qt::LeftButton, Qt::LeftButton);
        linked::mouse(&view, QEvent::MouseMove, mid + QPointF(40, 0), Qt::NoButton, Qt::LeftButton);
        linked::mouse(&view, QEvent::MouseButtonRelease, mid + QPointF(40, 0), Qt::LeftButton,
                      Qt::NoButton);
        QVERIFY(view.visible().left() < before.left());
        QCOMPARE(model.selected(), 2);
        // Double-click shows all of it again.
        linked::mouse(&view, QEvent::MouseButtonDblClick, mid, Qt::LeftButton, Qt::LeftButton);
        QVERIFY(!view.zoomed());
        QCOMPARE(view.visible(), all);
    }

    // Linked views: the signals plot's axes (tokens along the trace, nats),
    // legend and step numbers; hover values at a known token; a click at a
    // token selects its node and says which token; wheel zoom, drag pan and
    // double-click reset on x.
    void signalsPlotAxesHoverAndPick() {
        views::RunModel model;
        views::SignalsView view(&model);
        view.resize(600, 220);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        model.load(linked::two_step_run());
        QCOMPARE(model.selected(), 2);
        QCOMPARE(view.trace_leaf(), 2);
        QCOMPARE(view.token_count(), 10);
        view.grab();
        const auto& d = view.drawn();
        QCOMPARE(d.y_title, QString("nats"));
        // Entropy reaches 4.5 nats: ticks 0, 1, ... 5 (or every 2, if tight).
        QVERIFY2(d.y_ticks.first() == "0" && d.y_ticks.contains("4"),
                 qPrintable(d.y_ticks.join(",")));
        QVERIFY2(d.x_ticks.first() == "0" && d.x_ticks.contains("8"),
                 qPrintable(d.x_ticks.join(",")));
        QCOMPARE(d.x_title, QString("token along the trace"));
        QVERIFY(d.legend.contains("entropy") && d.legend.contains("varentropy (nats²)") &&
                d.legend.contains("selected step"));
        QCOMPARE(d.step_labels, QStringList({"step 1", "step 2"}));
        QCOMPARE(view.visible_from(), -0.5);
        QCOMPARE(view.visible_to(), 9.5);

        // Hover at token 7 (the second step's third): its values.
        const QRectF plot = view.plot_rect();
        const double y = plot.center().y();
        linked::hover(&view, QPointF(view.token_x(7) + 2, y));
        QCOMPARE(view.hovered(), 7);
        view.grab();
        QCOMPARE(view.drawn().hover,
                 QString("token 7 · step 2 (node 2)\n' t7'\nentropy 3.500 nats\n"
                         "varentropy 1.750 nats²\nlogprob -0.700 (p 0.497)"));
        QVERIFY(view.grab().save(shots_dir() + "/signals-hover.png"));

        // A click on token 2 selects node 1 (the first step) and names the
        // token; the trace shown stays the longer one.
        QSignalSpy picked(&view, &views::SignalsView::tokenPicked);
        linked::click(&view, QPointF(view.token_x(2), y));
        QCOMPARE(model.selected(), 1);
        QCOMPARE(picked.count(), 1);
        QCOMPARE(picked[0][0].toInt(), 1);
        QCOMPARE(picked[0][1].toInt(), 2);
        QCOMPARE(view.trace_leaf(), 2);
        QCOMPARE(view.token_count(), 10);
        // The selected step's band is drawn over its tokens, not the other's.
        const QImage img = view.grab().toImage();
        const QColor base = view.palette().color(QPalette::Base);
        const int band_y = int(plot.bottom()) - 3;
        QVERIFY(img.pixelColor(int(view.token_x(1)), band_y) != base);
        QCOMPARE(img.pixelColor(int(view.token_x(7)), band_y), base);
        // Selecting the sibling elsewhere: its trace.
        model.select(3);
        QCOMPARE(view.trace_leaf(), 3);
        QCOMPARE(view.token_count(), 6);
        model.select(2);

        // Wheel zoom about token 6: fewer tokens shown, 6 among them.
        linked::wheel(&view, QPointF(view.token_x(6), y), 240);
        QVERIFY(view.zoomed());
        QVERIFY(view.visible_to() - view.visible_from() < 7);
        QVERIFY(view.visible_from() < 6 && view.visible_to() > 6);
        view.grab();
        QVERIFY(view.drawn().x_title.contains("zoomed"));
        QVERIFY(view.grab().save(shots_dir() + "/signals-zoomed.png"));
        // A drag pans (and selects nothing).
        const double from = view.visible_from();
        QSignalSpy sel(&model, &views::RunModel::selectionChanged);
        linked::mouse(&view, QEvent::MouseButtonPress, plot.center(), Qt::LeftButton,
                      Qt::LeftButton);
        linked::mouse(&view, QEvent::MouseMove, plot.center() + QPointF(60, 0), Qt::NoButton,
                      Qt::LeftButton);
        linked::mouse(&view, QEvent::MouseButtonRelease, plot.center() + QPointF(60, 0),
                      Qt::LeftButton, Qt::NoButton);
        QVERIFY(view.visible_from() < from);
        QCOMPARE(sel.count(), 0);
        // Double-click shows the whole trace.
        linked::mouse(&view, QEvent::MouseButtonDblClick, plot.center(), Qt::LeftButton,
                      Qt::LeftButton);
        QVERIFY(!view.zoomed());
        QCOMPARE(view.visible_from(), -0.5);
        QCOMPARE(view.visible_to(), 9.5);
    }

    // Linked views on the dark theme: both read (dark base, light words,
    // series that stand off the base). Screenshots at the docks' sizes, in
    // both themes.
    void analysisViewsReadOnBothThemes() {
        for (const bool dark : {false, true}) {
            QApplication::setPalette(dark ? views::dark_palette() : views::light_palette());
            const auto restore =
                qScopeGuard([] { QApplication::setPalette(views::light_palette()); });
            views::RunModel model;
            views::SignalsView signals_view(&model);
            views::LatentView latent(&model);
            signals_view.resize(600, 220);
            latent.resize(430, 220);
            signals_view.show();
            latent.show();
            QVERIFY(QTest::qWaitForWindowExposed(&latent));
            QSignalSpy projected(&latent, &views::LatentView::projected);
            model.load(linked::branchy_run());
            QTRY_VERIFY_WITH_TIMEOUT(projected.count() >= 1 && !latent.fitting(), 20000);
            QCOMPARE(latent.trace_leaf(), model.tree().size() - 1);
            const QString suffix = dark ? "-dark.png" : "-light.png";
            for (QWidget* w :
                 {static_cast<QWidget*>(&signals_view), static_cast<QWidget*>(&latent)}) {
                const QImage img = w->grab().toImage();
                const QColor base = w->palette().color(QPalette::Base);
                const double lum = views::relative_luminance(img.pixelColor(2, img.height() - 2));
                QVERIFY2(dark ? lum < 0.05 : lum > 0.8, qPrintable(QString::number(lum)));
                // The words of the y ticks: the palette's text, so they read.
                const QRect ticks(0, 30, 44, img.height() - 80);
                QVERIFY(pixels_unlike(img, ticks, base) > 30);
                double ink = dark ? 0 : 1;
                for (int yy = ticks.top(); yy < ticks.bottom(); ++yy)
                    for (int xx = ticks.left(); xx < ticks.right(); ++xx) {
                        const double l = views::relative_luminance(img.pixelColor(xx, yy));
                        ink = dark ? std::max(ink, l) : std::min(ink, l);
                    }
                QVERIFY2(dark ? ink > 0.6 : ink < 0.1, qPrintable(QString::number(ink)));
            }
            QVERIFY(latent.drawn().legend ==
                    QStringList({"selected trace", "correct branch", "wrong branch", "right answer",
                                 "wrong answer"}));
            for (auto ink :
                 {views::PlotInk::Entropy, views::PlotInk::Varentropy, views::PlotInk::Correct,
                  views::PlotInk::Wrong, views::PlotInk::Selected})
                QVERIFY(views::contrast_ratio(views::plot_colour(ink, latent.palette()),
                                              latent.palette().color(QPalette::Base)) > 3);
            // The selected trace's colour is on screen in both views.
            const QColor sel = views::plot_colour(views::PlotInk::Selected, latent.palette());
            QVERIFY(pixels_like(latent.grab().toImage(), latent.rect(), sel, 20) > 40);
            QVERIFY(signals_view.grab().save(shots_dir() + "/signals" + suffix));
            QVERIFY(latent.grab().save(shots_dir() + "/latent" + suffix));
            // With the hover box up, for the pictures.
            QPointF at;
            QVERIFY(latent.node_pos(model.tree().size() - 3, &at));
            linked::hover(&latent, at);
            linked::hover(&signals_view,
                          QPointF(signals_view.token_x(20), signals_view.plot_rect().center().y()));
            QVERIFY(signals_view.grab().save(shots_dir() + "/signals-hover" + suffix));
            QVERIFY(latent.grab().save(shots_dir() + "/latent-hover" + suffix));
        }
    }

    // A token clicked on the signals plot is scrolled to and marked in the
    // token pane (its step selected first, so the pane shows its trace).
    void signalsClickMarksTheToken() {
        views::RunModel model;
        views::SignalsView plot(&model);
        views::TokenView tokens(&model);
        QObject::connect(&plot, &views::SignalsView::tokenPicked, &tokens,
                         &views::TokenView::show_token);
        plot.resize(600, 220);
        tokens.resize(300, 200);
        plot.show();
        tokens.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        model.load(linked::two_step_run());
        QCOMPARE(tokens.marked_token(), -1);
        const double y = plot.plot_rect().center().y();
        linked::click(&plot, QPointF(plot.token_x(2), y));
        QCOMPARE(model.selected(), 1);
        // The pane now shows node 1's trace; token 2 of node 1 is marked.
        QVERIFY(tokens.marked_token() >= 0);
        QCOMPARE(tokens.marked_token(), 2);
        QVERIFY(!tokens.show_token(99, 0));
    }
};

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
