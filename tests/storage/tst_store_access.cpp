// Opening the run store: read-only stores, files that are not ours, a full
// disk said as such, and a run whose writer's pid now names another process.
// Real SQLite files throughout.
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <atomic>
#include <fstream>
#include <sstream>

#include "reasonscope/error.h"
#include "reasonscope/run_store.h"
#include "sql_query.h"
#include "test_paths.h"

using namespace rs;

namespace {

RunRow test_row(const std::string& name = "") {
    RunRow row;
    row.name = name;
    row.strategy = "test";
    row.prompt = "p";
    return row;
}

using rs::test::query_int;

void exec(const std::string& db, const std::string& sql) {
    sqlite3* c = nullptr;
    QCOMPARE(sqlite3_open(db.c_str(), &c), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(c, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(c);
    QVERIFY2(rc == SQLITE_OK, msg.c_str());
}

// Field 22 of /proc/<pid>/stat.
int64_t start_time(qint64 pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(f, line);
    std::istringstream in(line.substr(line.rfind(')') + 1));
    std::string x;
    for (int i = 3; i < 22; ++i) in >> x;
    long long v = -1;
    in >> v;
    return v;
}

std::string file_bytes(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// PRAGMA max_page_count for every connection opened while the extension is
// registered (as in tst_store): writes needing a new page fail SQLITE_FULL.
std::atomic<int> g_max_pages{0};
int limit_pages(sqlite3* db, char**, const sqlite3_api_routines*) {
    const std::string sql = "PRAGMA max_page_count = " + std::to_string(g_max_pages.load());
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    return SQLITE_OK;
}
void (*const kLimitPages)(void) = reinterpret_cast<void (*)(void)>(limit_pages);

// A small tmpfs (root only; tests needing it skip otherwise).
struct Tmpfs {
    std::string dir;
    bool mounted = false;
    Tmpfs(const std::string& at, const char* opts) : dir(at) {
        QDir().mkpath(QString::fromStdString(at));
        mounted = geteuid() == 0 && ::mount("tmpfs", at.c_str(), "tmpfs", 0, opts) == 0;
    }
    void remount_read_only() {
        QVERIFY(::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0);
    }
    ~Tmpfs() {
        if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    }
};

}  // namespace

class TestStoreAccess : public QObject {
    Q_OBJECT
  private slots:
    // An SQLite file of someone else's is refused with a clear error and
    // left as it was: no tables added, not switched to WAL.
    void unrelatedDatabaseIsRefusedAndUntouched() {
        QTemporaryDir d;
        const std::string p = d.filePath("notes.sqlite").toStdString();
        exec(p,
             "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes "
             "(body) VALUES ('keep me');");
        const std::string before = file_bytes(p);
        for (int read_only = 0; read_only < 2; ++read_only) {
            try {
                if (read_only)
                    RunStore::open_read_only(p);
                else
                    RunStore::open(p);
                QFAIL("expected an error");
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains(QString::fromStdString(p) +
                                                    " is a SQLite database but not a "
                                                    "Reasonscope store"),
                         e.what());
                QVERIFY2(QString(e.what()).contains("notes"), e.what());
            }
        }
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'runs'"),
                 int64_t(0));
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM notes"), int64_t(1));
        QCOMPARE(file_bytes(p), before);
        // An empty file is fine: it becomes a store.
        const std::string empty = d.filePath("empty.sqlite").toStdString();
        std::ofstream(empty).close();
        QCOMPARE(RunStore::open(empty)->schema_version(), RunStore::latest_schema_version());
    }

    // A read-only store opened for reading lists and loads its runs (runs of
    // an older schema too: nothing is migrated), and refuses writes clearly.
    void readOnlyStoreIsReadable() {
        QTemporaryDir d;
        const std::string p = d.filePath("ro.sqlite").toStdString();
        {
            auto st = RunStore::open(p);
            st->finish_run(st->begin_run(test_row("first")), [] {
                RunRow r;
                r.status = "ok";
                return r;
            }());
        }
        auto st = RunStore::open_read_only(p);
        QVERIFY(st->read_only());
        auto runs = st->list();
        QCOMPARE(runs.size(), size_t(1));
        QCOMPARE(runs[0].name, std::string("first"));
        QCOMPARE(st->load(runs[0].id).run.status, std::string("ok"));
        try {
            st->rename(runs[0].id, "x");
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("read-only"), e.what());
        }
        // The store on a read-only mount (as root, where file modes do not
        // hold): no -shm file can be made, so it is read as immutable.
        Tmpfs fs(d.filePath("mnt").toStdString(), "size=4m");
        if (!fs.mounted) return;
        const std::string q = fs.dir + "/runs.sqlite";
        {
            auto w = RunStore::open(q);
            w->begin_run(test_row("on ro mount"));
        }
        QVERIFY(!QFile::exists(QString::fromStdString(q + "-shm")));
        fs.remount_read_only();
        try {
            RunStore::open(q);
            QFAIL("a read-write open of a read-only mount should fail");
        } catch (const Error&) {
        }
        auto ro = RunStore::open_read_only(q);
        const auto listed = ro->list();
        QCOMPARE(listed.size(), size_t(1));
        QCOMPARE(listed[0].name, std::string("on ro mount"));
        // Its writer (this process, never finished) is alive: still running.
        QCOMPARE(listed[0].status, std::string("running"));
    }

    // Upgrades from version 3 keep rows; a running row without a start time
    // keeps the old rule (alive pid = running).
    void upgradesVersionThreeStore() {
        QTemporaryDir d;
        const std::string p = d.filePath("v3.sqlite").toStdString();
        QString sql;
        for (const char* f :
             {"0001_initial.sql", "0002_backend_reason.sql", "0003_no_silent_loss.sql"}) {
            QFile file(QString(RS_SOURCE_DIR "/storage/schema/") + f);
            QVERIFY(file.open(QIODevice::ReadOnly));
            sql += QString::fromUtf8(file.readAll());
        }
        QProcess sleeper;
        sleeper.start("sleep", {"30"});
        QVERIFY(sleeper.waitForStarted());
        exec(p, sql.toStdString() +
                    "PRAGMA user_version = 3; INSERT INTO runs (id, created_at, status, pid, "
                    "strategy, params, prompt) VALUES (1, '2026-11-01T00:00:00Z', 'running', " +
                    std::to_string(sleeper.processId()) + ", 'x', '{}', 'p');");
        {
            auto ro = RunStore::open_read_only(p);  // an older schema is read as it is
            QCOMPARE(ro->schema_version(), 3);
            QCOMPARE(ro->list().at(0).status, std::string("running"));
        }
        auto st = RunStore::open(p);
        QCOMPARE(st->schema_version(), RunStore::latest_schema_version());
        QVERIFY(RunStore::latest_schema_version() >= 4);
        QCOMPARE(st->get(1)->status, std::string("running"));
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM runs WHERE pid_start IS NULL"), int64_t(1));
        sleeper.kill();
        sleeper.waitForFinished();
        QCOMPARE(RunStore::open(p)->get(1)->status, std::string("incomplete"));
    }

    // A running run's pid now belongs to another process (its start time
    // differs): the run is dead, shown incomplete, and marked so.
    void reusedPidIsADeadWriter() {
        QTemporaryDir d;
        const std::string p = d.filePath("pid.sqlite").toStdString();
        int64_t mine = 0, other = 0;
        {
            auto st = RunStore::open(p);
            mine = st->begin_run(test_row("mine"));
            other = st->begin_run(test_row("pid reused"));
        }
        // Our own row records our start time.
        QCOMPARE(query_int(p, "SELECT pid_start FROM runs WHERE id = " + std::to_string(mine)),
                 start_time(QCoreApplication::applicationPid()));
        QProcess sleeper;  // a live process standing in for the pid's new owner
        sleeper.start("sleep", {"30"});
        QVERIFY(sleeper.waitForStarted());
        const int64_t real = start_time(sleeper.processId());
        QVERIFY(real > 0);
        exec(p, "UPDATE runs SET pid = " + std::to_string(sleeper.processId()) + ", pid_start = " +
                    std::to_string(real - 1) + " WHERE id = " + std::to_string(other));
        {
            // Seen as dead on reading, even read-only (nothing written)...
            auto ro = RunStore::open_read_only(p);
            const RunRow r = *ro->get(other);
            QCOMPARE(r.status, std::string("incomplete"));
            QVERIFY2(r.status_reason.find("ended before finishing") != std::string::npos,
                     r.status_reason.c_str());
            QCOMPARE(ro->get(mine)->status, std::string("running"));
            QCOMPARE(ro->list(RunFilter{"", "", "", "incomplete", 0}).size(), size_t(1));
            QCOMPARE(ro->list(RunFilter{"", "", "", "running", 0}).size(), size_t(1));
        }
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM runs WHERE status = 'running'"), int64_t(2));
        // ...and marked by the next read-write open. Our own run (same pid,
        // same start time) stays running.
        auto st = RunStore::open(p);
        QCOMPARE(query_int(p, "SELECT COUNT(*) FROM runs WHERE status = 'incomplete' AND id = " +
                                  std::to_string(other)),
                 int64_t(1));
        QCOMPARE(st->get(mine)->status, std::string("running"));
        // The right start time: alive.
        exec(p, "UPDATE runs SET status = 'running', pid = " + std::to_string(sleeper.processId()) +
                    ", pid_start = " + std::to_string(real) +
                    " WHERE id = " + std::to_string(other));
        QCOMPARE(RunStore::open(p)->get(other)->status, std::string("running"));
        sleeper.kill();
        sleeper.waitForFinished();
    }

    // SQLITE_FULL (here from PRAGMA max_page_count on the recorder's
    // connection, set by an auto-extension) reads "disk full" with the
    // store's path, in the recorder's status and the run's reason.
    void fullDatabaseSaysDiskFull() {
        QTemporaryDir d;
        const std::string p = d.filePath("full.sqlite").toStdString();
        auto st = RunStore::open(p);
        const int64_t id = st->begin_run(test_row());
        g_max_pages = static_cast<int>(query_int(p, "PRAGMA page_count"));
        QVERIFY(g_max_pages > 0);
        QCOMPARE(sqlite3_auto_extension(kLimitPages), SQLITE_OK);
        auto rec = st->recorder(id);
        sqlite3_cancel_auto_extension(kLimitPages);
        rec->on_event(NodeAdded{0, -1, "p"});
        for (int k = 1; k <= 20; ++k) {
            rec->on_event(NodeAdded{k, 0, ""});
            for (int i = 0; i < 100; ++i) {
                TokenRecord t;
                t.id = i;
                t.piece = "ab";
                rec->on_event(TokensAppended{k, {t}});
            }
        }
        QVERIFY(!rec->flush());
        QVERIFY2(rec->lost().find("disk full") != std::string::npos, rec->lost().c_str());
        QVERIFY2(rec->lost().find(p) != std::string::npos, rec->lost().c_str());
        RunRow fin;
        fin.status = "ok";
        fin = st->finish_run(id, fin);
        QCOMPARE(fin.status, std::string("incomplete"));
        QVERIFY2(fin.status_reason.find("disk full") != std::string::npos,
                 fin.status_reason.c_str());
    }

    // A real full disk (a 1 MiB tmpfs; root only): the run ends incomplete
    // and the reason says "disk full" with the path.
    void fullTmpfsSaysDiskFull() {
        QTemporaryDir d;
        Tmpfs fs(d.filePath("small").toStdString(), "size=1m");
        if (!fs.mounted) QSKIP("mounting a tmpfs needs root");
        const std::string p = fs.dir + "/runs.sqlite";
        auto st = RunStore::open(p);
        const int64_t id = st->begin_run(test_row());
        auto rec = st->recorder(id);
        rec->on_event(NodeAdded{0, -1, "p"});
        int64_t produced = 0;
        for (int k = 1; k <= 40; ++k) {
            rec->on_event(NodeAdded{k, 0, ""});
            for (int i = 0; i < 200; ++i) {
                TokenRecord t;
                t.id = i;
                t.piece = std::string(40, 'x');
                t.top = {{1, -0.5f}, {2, -1.5f}};
                t.top_pieces = {std::string(40, 'a'), std::string(40, 'b')};
                rec->on_event(TokensAppended{k, {t}});
                ++produced;
            }
        }
        QVERIFY(!rec->flush());
        QVERIFY2(rec->lost().find("disk full") != std::string::npos, rec->lost().c_str());
        QVERIFY2(rec->lost().find(p) != std::string::npos, rec->lost().c_str());
        RunRow fin;
        fin.status = "ok";
        fin.tokens = produced;
        try {
            fin = st->finish_run(id, fin);
            QCOMPARE(fin.status, std::string("incomplete"));
            QVERIFY2(fin.status_reason.find("disk full") != std::string::npos,
                     fin.status_reason.c_str());
        } catch (const Error& e) {  // the final row itself may not fit
            QVERIFY2(QString(e.what()).contains("disk full"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestStoreAccess)
#include "tst_store_access.moc"
