// View widgets whose preprocessing runs off the UI thread, offscreen: the
// latent map fits its PCA on a worker thread and shows the result later;
// bursts of changes coalesce into a fit on the latest tree.
#include <QSignalSpy>
#include <QtTest>
#include <random>

#include "models/run_model.h"
#include "reasonscope/run_store.h"
#include "widgets/latent_view.h"

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
};

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
