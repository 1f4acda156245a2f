// The node pane's probes, offscreen: the logit lens table of a real lens
// (the bundled model) has a row per layer, the model's own layer first, a
// column per top token plus the chosen token's probability; and the answer
// entropy plot paints its curve. Screenshots go to <build>/screenshots.
#include <QDir>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QtTest>

#include "reasonscope/logit_lens.h"
#include "reasonscope/model.h"
#include "reasonscope/session.h"
#include "widgets/probe_view.h"

using namespace rs;

class TestProbeView : public QObject {
    Q_OBJECT
  private slots:
    void lensTableHasALayerPerRow() {
        auto model = Model::load(RS_SOURCE_DIR "/resources/models/reasoner.gguf");
        SessionOptions so;
        so.threads = 2;
        so.n_ctx = 64;
        Session s(*model, so);
        const std::vector<TokenId> tokens =
            model->tokenizer().encode("Q: 13+7*4\n7*4=28: 13+28\n", true, false);
        const int n = static_cast<int>(tokens.size());
        const int k = 5;
        const LogitLens lens = logit_lens(s, tokens, n - 3, k);  // predicts a token of "28"
        QVERIFY(lens.target >= 0);
        const int L = model->config().n_layers;

        views::ProbeView view;
        view.resize(640, 560);
        view.show_lens(lens, "node 1, token 7: '2'");
        QTableWidget* t = view.lens_table();
        QCOMPARE(t->rowCount(), L);
        QCOMPARE(t->columnCount(), k + 1);  // p(target), then the top k
        // Row 0 is the last layer (the model's distribution), as the lens says.
        const LogitLensLayer& last = lens.layers.back();
        QCOMPARE(t->verticalHeaderItem(0)->text(), QString("layer %1").arg(L - 1));
        QCOMPARE(t->verticalHeaderItem(L - 1)->text(), QString("layer 0"));
        for (int c = 0; c < k; ++c) {
            const QString cell = t->item(0, c + 1)->text();
            QVERIFY2(
                cell.endsWith(QString::number(last.top[static_cast<size_t>(c)].second, 'f', 3)),
                qPrintable(cell));
        }
        QVERIFY(t->item(0, 0)->text().startsWith(QString::number(last.target_prob, 'f', 3)));
        // The chosen token is bold where it appears among the top tokens.
        bool bold_seen = false;
        for (int c = 0; c < k; ++c)
            if (last.top[static_cast<size_t>(c)].first == lens.target) {
                QVERIFY(t->item(0, c + 1)->font().bold());
                bold_seen = true;
            }
        QVERIFY(bold_seen);  // the bundled model predicts its own digit at the last layer

        views::AnswerEntropyCurve curve;
        curve.title = "Answer entropy per step (8 answers each)";
        curve.max_entropy = std::log(8.0);
        curve.entropy = {0.38, 0.0, 0.0};
        curve.first_token = {0.05, 0.0, 0.0};
        curve.top_answer = {"13", "41", "41"};
        curve.top_prob = {0.875, 1, 1};
        view.show_answer_entropy(curve);
        QSignalSpy asked(&view, &views::ProbeView::answerEntropyRequested);
        view.entropy_button()->click();
        QCOMPARE(asked.count(), 1);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QImage img = view.grab().toImage();
        QVERIFY(!img.isNull());
        // The curve is drawn in its colour.
        const QImage plot = view.entropy_plot()->grab().toImage();
        int curve_pixels = 0;
        for (int y = 0; y < plot.height(); ++y)
            for (int x = 0; x < plot.width(); ++x)
                curve_pixels += plot.pixelColor(x, y) == QColor(210, 90, 40);
        QVERIFY(curve_pixels > 20);
        const QString shots = QStringLiteral(RS_BINARY_DIR) + "/screenshots";
        QDir().mkpath(shots);
        QVERIFY(img.save(shots + "/probe-view-lens.png"));
    }
};

QTEST_MAIN(TestProbeView)
#include "tst_probe_view.moc"
