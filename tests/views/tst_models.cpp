// The view models, headless: a real search on a reference model feeds a
// RunModel in batches (as the UI timer does) while QAbstractItemModelTester
// checks the tree item model's consistency; a stored run loads into the
// same models; the runs table lists the store.
#include <QAbstractItemModelTester>
#include <QItemSelectionModel>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QtTest>

#include "models/run_model.h"
#include "models/runs_table_model.h"
#include "models/tree_item_model.h"
#include "reasonscope/local_generator.h"
#include "reasonscope/model.h"
#include "reasonscope/run_store.h"
#include "reasonscope/search.h"
#include "reasonscope/strategy.h"
#include "test_paths.h"
#include "tree_compare.h"

using namespace rs;

namespace {

class Collect final : public RunObserver {
  public:
    std::vector<RunEvent> events;
    void on_event(const RunEvent& e) override { events.push_back(e); }
};

// Grows a small tree: two levels of three children each.
void grow(SearchContext& ctx) {
    auto kids = ctx.expand(ctx.root(), 3);
    std::vector<std::pair<int, int>> req;
    for (int k : kids) req.push_back({k, 2});
    auto grand = ctx.expand_many(req);
    auto scorer = make_scorer("logprob");
    for (int g : grand) ctx.score(g, *scorer);
    ctx.prune(grand[0]);
    ctx.choose_answer("", grand.back());
    ctx.finish("ok");
}

}  // namespace

class TestModels : public QObject {
    Q_OBJECT
  private slots:
    void liveEventsKeepTheModelConsistent() {
        RS_REQUIRE_REFERENCE();
        auto model = Model::load(rs::test::reference("models/stories260K.gguf").toStdString());
        LocalGenerator s(*model, {});
        Collect c;
        RunConfig cfg;
        cfg.max_step_tokens = 12;
        cfg.sampling.temperature = 0.9f;
        SearchContext ctx(s, Task{"t", "Once upon a time", "", ""}, cfg, {&c});
        grow(ctx);

        views::RunModel run;
        RunRow info;
        info.prompt = "Once upon a time";
        run.begin_live(info);
        views::TreeItemModel items(&run);
        QAbstractItemModelTester tester(&items,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        // Feed in uneven batches, as the 30 Hz UI timer would.
        size_t i = 0, step = 1;
        while (i < c.events.size()) {
            size_t n = std::min(step, c.events.size() - i);
            run.apply(std::vector<RunEvent>(c.events.begin() + static_cast<long>(i),
                                            c.events.begin() + static_cast<long>(i + n)));
            i += n;
            step = step * 2 + 1;
        }
        QCOMPARE(run.tree().size(), ctx.tree().size());
        QCOMPARE(run.tree().size(), 10);
        // The model applies the events with the search's own function: same tree.
        const std::string diff = rs::test::tree_difference(run.tree(), ctx.tree());
        QVERIFY2(diff.empty(), diff.c_str());
        QVERIFY(run.finished());
        QCOMPARE(items.rowCount(), 1);
        QModelIndex root = items.index(0, 0);
        QCOMPARE(items.rowCount(root), 3);
        QCOMPARE(items.rowCount(items.index(0, 0, root)), 2);
        // Text and signals arrived with the tokens.
        for (int id = 1; id < run.tree().size(); ++id) {
            QCOMPARE(run.tree().at(id).text, ctx.tree().at(id).text);
            QCOMPARE(run.tree().at(id).tokens.size(), ctx.tree().at(id).tokens.size());
        }
        QCOMPARE(run.tree().at(4).status, NodeStatus::Pruned);
        QCOMPARE(
            items.data(items.index_of(4).siblingAtColumn(views::TreeItemModel::Status)).toString(),
            QString("pruned"));
        QVERIFY(
            items.data(items.index_of(9).siblingAtColumn(views::TreeItemModel::Score)).isValid());
        QCOMPARE(run.selected(), 9);  // the chosen node
        QVERIFY(!run.entropy_trace().empty());
    }

    void storedRunLoadsIntoTheSameModel() {
        RS_REQUIRE_REFERENCE();
        QTemporaryDir dir;
        auto store = RunStore::open(dir.filePath("runs.sqlite").toStdString());
        auto model = Model::load(rs::test::reference("models/stories260K.gguf").toStdString());
        LocalGenerator s(*model, {});
        RunRow row;
        row.strategy = "test";
        row.prompt = "Once upon a time";
        int64_t id = store->begin_run(row);
        int tree_size = 0;
        ReasoningTree want;
        {
            auto rec = store->recorder(id);
            RunConfig cfg;
            cfg.max_step_tokens = 12;
            SearchContext ctx(s, Task{"t", "Once upon a time", "", ""}, cfg, {rec.get()});
            grow(ctx);
            tree_size = ctx.tree().size();
            want = ctx.tree();
        }
        views::RunModel run;
        views::TreeItemModel items(&run);
        QAbstractItemModelTester tester(&items,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        run.load(store->load(id));
        QCOMPARE(run.tree().size(), tree_size);
        const std::string diff =
            rs::test::tree_difference(run.tree(), want, rs::test::Hidden::Fp16);
        QVERIFY2(diff.empty(), diff.c_str());
        QCOMPARE(items.rowCount(items.index(0, 0)), 3);
        QVERIFY(!run.live());

        views::RunsTableModel table;
        QAbstractItemModelTester t2(&table, QAbstractItemModelTester::FailureReportingMode::QtTest);
        table.set_runs(store->list());
        QCOMPARE(table.rowCount(), 1);
        QCOMPARE(table.data(table.index(0, views::RunsTableModel::Strategy)).toString(),
                 QString("test"));
        QCOMPARE(table.data(table.index(0, views::RunsTableModel::Status)).toString(),
                 QString("ok"));
    }

    // Issue #20: a refresh reset the runs table, so the selection moved to
    // whatever run took its row when a run finished, and a run deleted
    // elsewhere stayed listed. The selection follows the run id; deleted
    // runs leave the table.
    void runsTableKeepsTheSelectionById() {
        auto row = [](int64_t id, const char* status) {
            RunRow r;
            r.id = id;
            r.status = status;
            r.strategy = "s" + std::to_string(id);
            return r;
        };
        views::RunsTableModel table;
        QAbstractItemModelTester tester(&table,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&table);
        proxy.sort(views::RunsTableModel::Id, Qt::DescendingOrder);  // newest first
        QItemSelectionModel sel(&proxy);
        table.set_runs({row(3, "running"), row(2, "ok"), row(1, "ok")});
        const auto id_at = [&](int r) {
            return proxy.index(r, 0).data(views::RunsTableModel::RunIdRole).toLongLong();
        };
        QCOMPARE(id_at(1), qint64(2));
        sel.select(proxy.index(1, 0),
                   QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        const auto selected = [&] {
            const auto rows = sel.selectedRows();
            return rows.size() == 1 ? rows[0].data(views::RunsTableModel::RunIdRole).toLongLong()
                                    : qint64(-1);
        };
        QCOMPARE(selected(), qint64(2));
        // Run 3 finishes, run 4 starts, run 1 is deleted by another process.
        table.set_runs({row(4, "running"), row(3, "ok"), row(2, "ok")});
        QCOMPARE(table.rowCount(), 3);
        QCOMPARE(id_at(0), qint64(4));
        QCOMPARE(id_at(2), qint64(2));
        QCOMPARE(selected(), qint64(2));
        QCOMPARE(proxy.index(1, views::RunsTableModel::Status).data().toString(), QString("ok"));
        // The selected run is deleted: nothing stays selected, no row stays.
        table.set_runs({row(4, "ok"), row(3, "ok")});
        QCOMPARE(table.rowCount(), 2);
        QCOMPARE(selected(), qint64(-1));
        table.set_runs({});
        QCOMPARE(table.rowCount(), 0);
    }

    // A run that has just started is listed at once (upsert), then updated
    // in place by id when it ends.
    void runsTableListsARunningRun() {
        views::RunsTableModel table;
        QAbstractItemModelTester tester(&table,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        RunRow a;
        a.id = 1;
        a.status = "ok";
        table.set_runs({a});
        RunRow b;
        b.id = 2;  // status "running" by default
        table.upsert(b);
        QCOMPARE(table.rowCount(), 2);
        QCOMPARE(table.data(table.index(1, views::RunsTableModel::Status)).toString(),
                 QString("running"));
        b.status = "cancelled";
        table.upsert(b);
        QCOMPARE(table.rowCount(), 2);
        QCOMPARE(table.data(table.index(1, views::RunsTableModel::Status)).toString(),
                 QString("cancelled"));
    }
};

QTEST_GUILESS_MAIN(TestModels)
#include "tst_models.moc"
