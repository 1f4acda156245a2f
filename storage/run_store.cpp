#include "reasonscope/run_store.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cpu/fp16.h"
#include "loss_log.h"
#include "migrations.h"
#include "rows.h"
#include "sqlite_util.h"

namespace rs {

using storage::exec;
using storage::fail;
using storage::Stmt;

namespace storage {

namespace {

// A connection without the store's settings (nothing written yet).
sqlite3* raw_open(const std::string& path, int flags, const std::string& shown_path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        const std::string msg =
            db ? describe_failure(db, sqlite3_errcode(db) & 0xff) : "out of memory";
        sqlite3_close(db);
        throw Error(shown_path + ": cannot open run store: " + msg);
    }
    sqlite3_busy_timeout(db, 3000);
    return db;
}

[[noreturn]] void fail_open(sqlite3* db, const std::string& path, const std::string& msg) {
    const int code = sqlite3_errcode(db) & 0xff;
    std::string why = msg.empty() ? describe_failure(db, code) : msg;
    const std::string dir = std::filesystem::path(path).parent_path().string();
    if (code == SQLITE_CANTOPEN && access(dir.empty() ? "." : dir.c_str(), W_OK) != 0)
        why +=
            " (its directory is readonly here: the store's -wal and -shm files cannot be "
            "made; reading commands still work)";
    sqlite3_close(db);
    if (code == SQLITE_NOTADB || why.find("not a database") != std::string::npos)
        throw Error(path + ": not a Reasonscope run store (file is not an SQLite database)");
    throw Error(path + ": cannot open run store: " + why);
}

// The store's settings on a read-write connection.
void configure(sqlite3* db, const std::string& path) {
    char* err = nullptr;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
                     nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string msg = (sqlite3_errcode(db) & 0xff) == SQLITE_FULL ? "" : (err ? err : "");
        sqlite3_free(err);
        fail_open(db, path, msg);
    }
}

// The schema version of the file db holds, after checking that it is a run
// store or empty: a database of someone else's (tables, not ours) is refused
// rather than given our tables. Returns -1 for an empty database.
int check_is_store(sqlite3* db, const std::string& path) {
    std::vector<std::string> tables;
    int version = 0;
    bool runs_ok = false;
    try {
        Stmt v(db, "PRAGMA user_version");
        if (v.step()) version = static_cast<int>(v.i64(0));
        Stmt t(db,
               "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
               "ORDER BY name");
        while (t.step()) tables.push_back(t.text(0));
        Stmt c(db, "SELECT name FROM pragma_table_info('runs')");
        int have = 0;
        while (c.step()) {
            const std::string n = c.text(0);
            have += n == "strategy" || n == "prompt" || n == "params" || n == "status";
        }
        runs_ok = have == 4;
    } catch (const DbError& e) {
        fail_open(db, path, e.code == SQLITE_NOTADB ? "" : e.what());
    }
    if (tables.empty() && version == 0) return -1;
    if (!runs_ok) {
        std::string names;
        for (size_t i = 0; i < tables.size() && i < 5; ++i) names += (i ? ", " : "") + tables[i];
        if (tables.size() > 5) names += ", ...";
        sqlite3_close(db);
        throw Error(path + " is a SQLite database but not a Reasonscope store (" +
                    (tables.empty() ? std::string("no tables") : "tables: " + names) +
                    "); give --db a run store or a new file");
    }
    return version;
}

}  // namespace

sqlite3* open_connection(const std::string& path, bool create) {
    sqlite3* db = raw_open(path, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), path);
    configure(db, path);
    return db;
}

}  // namespace storage

namespace {

std::string now_iso() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

NodeStatus status_from(const std::string& s) {
    if (s == "expanded") return NodeStatus::Expanded;
    if (s == "pruned") return NodeStatus::Pruned;
    if (s == "terminal") return NodeStatus::Terminal;
    return NodeStatus::Open;
}

// The runs columns read_run() reads, for a store of schema version v (a
// read-only store of an older version is read as it is: NULL for the
// columns it lacks).
std::string run_cols(int v) {
    return std::string(
               "id, name, created_at, finished_at, status, model_path, model_name, model_bytes, "
               "model_hash, backend, strategy, params, suite, task_id, prompt, expected, seed, "
               "answer, correct, tokens, forward_passes, wall_seconds, kv_peak_bytes, "
               "node_count, app_version, error, chosen_node, ") +
           (v >= 2 ? "backend_reason" : "NULL") + ", " + (v >= 3 ? "status_reason" : "NULL") +
           ", pid, " + (v >= 4 ? "pid_start" : "NULL") + ", " +
           (v >= 5 ? "prompt_rendered, prompt_settings, model_file_type, tensor_types"
                   : "NULL, NULL, NULL, NULL") +
           ", " + (v >= 6 ? "server" : "NULL") + ", " +
           (v >= 8 ? "parent_run, parent_node, parent_token, forced_token"
                   : "NULL, NULL, NULL, NULL");
}

// When process pid started: field 22 of /proc/<pid>/stat (clock ticks after
// boot); -1 when unknown (no such process, no /proc).
int64_t process_start_time(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return -1;
    // Field 2, the command, is in parentheses and may hold spaces and ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream in(line.substr(close + 1));
    std::string field;
    for (int i = 3; i < 22; ++i)
        if (!(in >> field)) return -1;
    long long start = -1;
    if (!(in >> start)) return -1;
    return start;
}

int64_t own_start_time() {
    static const int64_t t = process_start_time(getpid());
    return t;
}

// Whether the process recorded as a running run's writer still runs: its pid
// exists and, where its start time was recorded, started then (a pid the
// system reused for another process does not count).
bool writer_alive(int64_t pid, int64_t pid_start) {
    if (pid <= 0) return false;
    if (!(kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) return false;
    if (pid_start >= 0) {
        const int64_t now = process_start_time(static_cast<pid_t>(pid));
        return now < 0 || now == pid_start;
    }
    // A row from before version 4: a pid equal to ours is not this process's.
    return pid != getpid();
}

std::string dead_writer_reason(int64_t pid) {
    return "the process writing the run (pid " + std::to_string(pid) +
           ") ended before finishing it; rows written until then are kept";
}

// A REAL column that may hold NaN: SQLite stores NaN as NULL.
double real_or_nan(const Stmt& s, int c) {
    return s.null(c) ? std::numeric_limits<double>::quiet_NaN() : s.f64(c);
}

// Runs `f` (one write), waiting out a database locked by another connection
// with growing sleeps for at most o.max_wait (telling o.on_status when it
// starts and stops waiting); rethrows anything else.
template <typename F>
void retry_locked(sqlite3* db, const WriteOptions& o, int64_t run_id, F&& f) {
    const auto start = std::chrono::steady_clock::now();
    auto sleep = std::max(o.first_sleep, std::chrono::milliseconds(1));
    bool waited = false;
    while (true) {
        try {
            f();
            if (waited && o.on_status) o.on_status(run_id, RecorderStatus{});
            return;
        } catch (const storage::DbError& e) {
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            if (!e.locked() || std::chrono::steady_clock::now() - start >= o.max_wait) throw;
            if (!waited && o.on_status) {
                RecorderStatus s;
                s.waiting = true;
                s.last_error = e.what();
                o.on_status(run_id, s);
            }
            waited = true;
        }
        std::this_thread::sleep_for(sleep);
        sleep = std::min(sleep * 2, std::max(o.max_sleep, o.first_sleep));
    }
}

RunRow read_run(const Stmt& s) {
    RunRow r;
    r.id = s.i64(0);
    r.name = s.text(1);
    r.created_at = s.text(2);
    r.finished_at = s.text(3);
    r.status = s.text(4);
    r.model_path = s.text(5);
    r.model_name = s.text(6);
    r.model_bytes = s.i64(7);
    r.model_hash = s.text(8);
    r.backend = s.text(9);
    r.strategy = s.text(10);
    r.params = s.text(11);
    r.suite = s.text(12);
    r.task_id = s.text(13);
    r.prompt = s.text(14);
    r.expected = s.text(15);
    r.seed = s.i64(16);
    r.answer = s.text(17);
    r.correct = s.null(18) ? -1 : static_cast<int>(s.i64(18));
    r.tokens = s.i64(19);
    r.forward_passes = s.i64(20);
    r.wall_seconds = s.f64(21);
    r.kv_peak_bytes = s.i64(22);
    r.node_count = s.i64(23);
    r.app_version = s.text(24);
    r.error = s.text(25);
    r.chosen_node = s.null(26) ? -1 : static_cast<int>(s.i64(26));
    r.backend_reason = s.text(27);
    r.status_reason = s.text(28);
    r.prompt_rendered = s.text(31);
    r.prompt_settings = s.text(32);
    r.model_file_type = s.text(33);
    r.tensor_types = s.text(34);
    r.server = s.text(35);
    r.parent_run = s.null(36) ? 0 : s.i64(36);
    r.parent_node = s.null(37) ? -1 : static_cast<int>(s.i64(37));
    r.parent_token = s.null(38) ? -1 : static_cast<int>(s.i64(38));
    r.forced_token = s.null(39) ? -1 : static_cast<int>(s.i64(39));
    // A run left "running" by a dead writer reads as what it is, even where
    // the store cannot be written to mark it (read-only, or not yet opened
    // for writing since the writer died).
    if (r.status == "running" &&
        !writer_alive(s.null(29) ? 0 : s.i64(29), s.null(30) ? -1 : s.i64(30))) {
        const std::string why = dead_writer_reason(s.null(29) ? 0 : s.i64(29));
        r.status = "incomplete";
        r.status_reason = r.status_reason.empty() ? why : r.status_reason + "; " + why;
    }
    return r;
}

void insert_run(sqlite3* db, RunRow& r) {
    Stmt s(
        db,
        "INSERT INTO runs (name, created_at, finished_at, status, pid, model_path, model_name, "
        "model_bytes, model_hash, "
        "backend, strategy, params, suite, task_id, prompt, expected, seed, answer, correct, "
        "tokens, forward_passes, "
        "wall_seconds, kv_peak_bytes, node_count, app_version, error, chosen_node, "
        "backend_reason, status_reason, pid_start, prompt_rendered, prompt_settings, "
        "model_file_type, tensor_types, server, parent_run, parent_node, parent_token, "
        "forced_token) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.bind(1, r.name)
        .bind(2, r.created_at.empty() ? now_iso() : r.created_at)
        .bind(3, r.finished_at)
        .bind(4, r.status);
    s.bind(5, static_cast<int64_t>(getpid()))
        .bind(6, r.model_path)
        .bind(7, r.model_name)
        .bind(8, r.model_bytes);
    s.bind(9, r.model_hash)
        .bind(10, r.backend)
        .bind(11, r.strategy)
        .bind(12, r.params)
        .bind(13, r.suite);
    s.bind(14, r.task_id)
        .bind(15, r.prompt)
        .bind(16, r.expected)
        .bind(17, r.seed)
        .bind(18, r.answer);
    s.bind_opt(19, r.correct)
        .bind(20, r.tokens)
        .bind(21, r.forward_passes)
        .bind(22, r.wall_seconds);
    s.bind(23, r.kv_peak_bytes)
        .bind(24, r.node_count)
        .bind(25, r.app_version)
        .bind(26, r.error)
        .bind_opt(27, r.chosen_node)
        .bind(28, r.backend_reason);
    if (r.status_reason.empty())
        s.bind_null(29);
    else
        s.bind(29, r.status_reason);
    if (own_start_time() < 0)
        s.bind_null(30);
    else
        s.bind(30, own_start_time());
    s.bind(31, r.prompt_rendered)
        .bind(32, r.prompt_settings)
        .bind(33, r.model_file_type)
        .bind(34, r.tensor_types);
    if (r.server.empty())
        s.bind_null(35);
    else
        s.bind(35, r.server);
    if (r.parent_run > 0) {
        s.bind(36, r.parent_run).bind_opt(37, r.parent_node).bind_opt(38, r.parent_token);
        s.bind_opt(39, r.forced_token);
    } else {
        for (int c = 36; c <= 39; ++c) s.bind_null(c);
    }
    s.run();
    r.id = sqlite3_last_insert_rowid(db);
}

}  // namespace

namespace storage {
std::string pieces_to_json(const std::vector<std::string>& v) {
    return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
// Hot when opening big runs (one array per token): a direct parser for the
// arrays pieces_to_json writes, falling back to the JSON library otherwise.
std::vector<std::string> pieces_from_json(const std::string& s) {
    std::vector<std::string> out;
    if (s.size() < 2 || s.front() != '[') return out;
    auto fallback = [&]() {
        try {
            return nlohmann::json::parse(s).get<std::vector<std::string>>();
        } catch (...) {
            return std::vector<std::string>{};
        }
    };
    size_t i = 1;
    while (i < s.size()) {
        if (s[i] == ']') return out;
        if (s[i] == ',' || s[i] == ' ') {
            ++i;
            continue;
        }
        if (s[i] != '"') return fallback();
        std::string v;
        for (++i; i < s.size() && s[i] != '"'; ++i) {
            if (s[i] != '\\') {
                v += s[i];
                continue;
            }
            if (++i >= s.size()) return fallback();
            switch (s[i]) {
                case '"':
                    v += '"';
                    break;
                case '\\':
                    v += '\\';
                    break;
                case '/':
                    v += '/';
                    break;
                case 'n':
                    v += '\n';
                    break;
                case 't':
                    v += '\t';
                    break;
                case 'r':
                    v += '\r';
                    break;
                case 'b':
                    v += '\b';
                    break;
                case 'f':
                    v += '\f';
                    break;
                default:
                    return fallback();  // \uXXXX and the like
            }
        }
        ++i;
        out.push_back(std::move(v));
    }
    return fallback();
}
}  // namespace storage
using storage::pieces_from_json;
using storage::pieces_to_json;

RunStore::RunStore() : losses_(std::make_shared<storage::LossLog>()) {}

std::string RunStore::default_path() {
    const char* x = std::getenv("XDG_DATA_HOME");
    std::string base =
        x && *x ? x
                : std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.local/share";
    return base + "/reasonscope/runs.sqlite";
}

int RunStore::latest_schema_version() {
    return storage::migrations().back().version;
}

std::unique_ptr<RunStore> RunStore::open(const std::string& path) {
    std::unique_ptr<RunStore> st(new RunStore());
    st->path_ = path;
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    sqlite3* db = storage::raw_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, path);
    storage::check_is_store(db, path);           // before WAL mode: a file not ours stays untouched
    if (sqlite3_db_readonly(db, "main") == 1) {  // SQLite fell back to reading only
        sqlite3_close(db);
        throw Error(path +
                    ": the run store is readonly here (no write permission on the file, its "
                    "directory or its disk); runs, show, export and compare can still read it");
    }
    storage::configure(db, path);
    st->db_ = db;
    int v = st->schema_version();
    if (v > latest_schema_version())
        throw Error(path + ": the run store has schema version " + std::to_string(v) +
                    ", newer than this build's " + std::to_string(latest_schema_version()) +
                    "; upgrade Reasonscope");
    for (const auto& m : storage::migrations()) {
        if (m.version <= v) continue;
        exec(st->db_, "BEGIN IMMEDIATE", "begin migration");
        try {
            exec(st->db_, m.sql, std::string("migration ") + m.name);
            exec(st->db_, "PRAGMA user_version = " + std::to_string(m.version),
                 "record schema version");
            exec(st->db_, "COMMIT", "commit migration");
        } catch (...) {
            sqlite3_exec(st->db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
    st->schema_ = latest_schema_version();
    // Runs whose writer died are incomplete (what was flushed stays); a
    // reason the writer stored first (rows it gave up) is kept.
    std::vector<std::pair<int64_t, int64_t>> dead;
    {
        Stmt s(st->db_, "SELECT id, pid, pid_start FROM runs WHERE status = 'running'");
        while (s.step())
            if (!writer_alive(s.i64(1), s.null(2) ? -1 : s.i64(2)))
                dead.emplace_back(s.i64(0), s.i64(1));
    }
    // Best effort: a store on a full disk still opens for reading (the run
    // is marked by a later open).
    try {
        for (const auto& [id, pid] : dead) {
            Stmt u(st->db_,
                   "UPDATE runs SET status = 'incomplete', pid = NULL, pid_start = NULL, "
                   "status_reason = "
                   "CASE WHEN status_reason IS NULL THEN ?1 ELSE status_reason || '; ' || ?1 END "
                   "WHERE id = ?2");
            u.bind(1, dead_writer_reason(pid)).bind(2, id).run();
        }
    } catch (const storage::DbError&) {
    }
    return st;
}

std::unique_ptr<RunStore> RunStore::open_read_only(const std::string& path) {
    std::error_code ec;
    // Nothing to read yet: an empty store is made, as open() does.
    if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0)
        return open(path);
    std::unique_ptr<RunStore> st(new RunStore());
    st->path_ = path;
    st->read_only_ = true;
    sqlite3* db = storage::raw_open(path, SQLITE_OPEN_READONLY, path);
    // A WAL store needs its -shm file; where it is missing and the directory
    // cannot take it, the file is read as immutable (no locks: fine for one
    // reading command; a writer's -wal there would not be seen).
    const int probe =
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) & 0xff;
    if (probe == SQLITE_CANTOPEN || probe == SQLITE_READONLY || probe == SQLITE_IOERR) {
        sqlite3_close(db);
        std::string uri = "file:";
        for (char c : std::filesystem::absolute(path, ec).string()) {
            if (c == '%' || c == '?' || c == '#') {
                char buf[4];
                std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
                uri += buf;
            } else
                uri += c;
        }
        db = storage::raw_open(uri + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, path);
    }
    const int v = storage::check_is_store(db, path);
    st->db_ = db;
    if (v < 0) {  // an empty database: no runs to read; made a store by open()
        st.reset();
        return open(path);
    }
    if (v > latest_schema_version())
        throw Error(path + ": the run store has schema version " + std::to_string(v) +
                    ", newer than this build's " + std::to_string(latest_schema_version()) +
                    "; upgrade Reasonscope");
    st->schema_ = v;
    return st;
}

void RunStore::require_writable() const {
    if (read_only_) throw Error(path_ + ": the run store was opened read-only (a reading command)");
}

RunStore::~RunStore() {
    sqlite3_close(db_);
}

int RunStore::schema_version() const {
    Stmt s(db_, "PRAGMA user_version");
    s.step();
    return static_cast<int>(s.i64(0));
}

bool RunStore::integrity_ok() const {
    Stmt s(db_, "PRAGMA integrity_check");
    return s.step() && s.text(0) == "ok";
}

int64_t RunStore::begin_run(RunRow row) {
    require_writable();
    row.status = "running";
    retry_locked(db_, write_, 0, [&] { insert_run(db_, row); });
    return row.id;
}

void RunStore::set_write_options(WriteOptions o) {
    write_ = std::move(o);
}

std::unique_ptr<RunRecorder> RunStore::recorder(int64_t run_id) {
    require_writable();
    return std::unique_ptr<RunRecorder>(new RunRecorder(path_, run_id, write_, losses_));
}

RunRow RunStore::finish_run(int64_t id, const RunRow& r) {
    require_writable();
    // Rows given up by this store's recorders, or (another writer's) noted
    // in the row itself.
    std::string lost = losses_->reason(id);
    if (lost.empty()) {
        Stmt s(db_, "SELECT status_reason FROM runs WHERE id = ?");
        s.bind(1, id);
        if (s.step() && !s.null(0)) lost = s.text(0);
    }
    std::string status = r.status, reason = r.status_reason;
    if (!lost.empty()) {
        reason = lost;
        if (status != "error") {
            if (status != "ok" && status != "incomplete")
                reason += " (the search itself ended: " + status + ")";
            status = "incomplete";
        }
    }
    try {
        retry_locked(db_, write_, id, [&] {
            Stmt s(
                db_,
                "UPDATE runs SET status=?, finished_at=?, answer=?, correct=?, tokens=?, "
                "forward_passes=?, wall_seconds=?, "
                "kv_peak_bytes=?, node_count=?, error=?, chosen_node=?, pid=NULL, pid_start=NULL, "
                "status_reason=?, server=COALESCE(?, server) WHERE id=?");
            s.bind(1, status).bind(2, now_iso()).bind(3, r.answer).bind_opt(4, r.correct);
            s.bind(5, r.tokens)
                .bind(6, r.forward_passes)
                .bind(7, r.wall_seconds)
                .bind(8, r.kv_peak_bytes)
                .bind(9, r.node_count);
            s.bind(10, r.error).bind_opt(11, r.chosen_node);
            if (reason.empty())
                s.bind_null(12);
            else
                s.bind(12, reason);
            if (r.server.empty())
                s.bind_null(13);
            else
                s.bind(13, r.server);
            s.bind(14, id).run();
        });
    } catch (const storage::DbError& e) {
        throw storage::DbError(std::string(e.what()) + " (run " + std::to_string(id) +
                                   " could not be finished: the rows written are kept, and "
                                   "it is marked incomplete when the store is next opened)",
                               e.code);
    }
    auto stored = get(id);
    if (!stored) throw Error(path_ + ": no run " + std::to_string(id));
    return *stored;
}

std::vector<RunRow> RunStore::list(const RunFilter& f) const {
    std::string sql = "SELECT " + run_cols(schema_) + " FROM runs WHERE 1=1";
    if (!f.model.empty()) sql += " AND (model_name LIKE ?1 OR model_path LIKE ?1)";
    if (!f.strategy.empty()) sql += " AND strategy = ?2";
    if (!f.tag.empty()) sql += " AND id IN (SELECT run_id FROM tags WHERE tag = ?3)";
    // A filter on status sees dead writers' runs as incomplete (read_run).
    if (!f.status.empty())
        sql += f.status == "running" || f.status == "incomplete"
                   ? " AND status IN ('running', 'incomplete')"
                   : " AND status = ?4";
    sql += " ORDER BY id DESC";
    // Filtering on running/incomplete happens after reading: the limit too.
    const bool derived = f.status == "running" || f.status == "incomplete";
    if (f.limit > 0 && !derived) sql += " LIMIT " + std::to_string(f.limit);
    Stmt s(db_, sql.c_str());
    if (!f.model.empty()) s.bind(1, "%" + f.model + "%");
    if (!f.strategy.empty()) s.bind(2, f.strategy);
    if (!f.tag.empty()) s.bind(3, f.tag);
    if (!f.status.empty() && !derived) s.bind(4, f.status);
    std::vector<RunRow> out;
    while ((f.limit <= 0 || out.size() < static_cast<size_t>(f.limit)) && s.step()) {
        RunRow r = read_run(s);
        if (f.status.empty() || r.status == f.status) out.push_back(std::move(r));
    }
    for (auto& r : out) {
        Stmt t(db_, "SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
        t.bind(1, r.id);
        while (t.step()) r.tags.push_back(t.text(0));
    }
    return out;
}

std::optional<RunRow> RunStore::get(int64_t id) const {
    Stmt s(db_, ("SELECT " + run_cols(schema_) + " FROM runs WHERE id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    RunRow r = read_run(s);
    Stmt t(db_, "SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
    t.bind(1, id);
    while (t.step()) r.tags.push_back(t.text(0));
    return r;
}

StoredRun RunStore::load(int64_t id) const {
    return load_parts(id, true);
}

StoredRun RunStore::load_outline(int64_t id) const {
    return load_parts(id, false);
}

StoredRun RunStore::load_parts(int64_t id, bool tokens) const {
    auto row = get(id);
    if (!row) throw Error(path_ + ": no run " + std::to_string(id));
    StoredRun out;
    out.run = *row;
    {
        const std::string sql =
            std::string(
                "SELECT node_id, parent_id, status, text, answer, correct, ended, visits, "
                "value_sum, ") +
            (schema_ >= 8 ? "started_at, ended_at" : "NULL, NULL") +
            " FROM nodes WHERE run_id = ? ORDER BY node_id";
        Stmt s(db_, sql.c_str());
        s.bind(1, id);
        while (s.step()) {
            int nid = static_cast<int>(s.i64(0));
            while (out.tree.size() <
                   nid) {  // a node lost before its row was flushed: keep ids aligned
                int gap = out.tree.add(out.tree.size() == 0 ? -1 : 0);
                out.tree.at(gap).status = NodeStatus::Pruned;
            }
            int parent = s.null(1) ? -1 : static_cast<int>(s.i64(1));
            if (parent >= out.tree.size()) parent = 0;
            int n = out.tree.add(parent);
            Node& nd = out.tree.at(n);
            nd.status = status_from(s.text(2));
            nd.text = s.text(3);
            nd.answer = s.text(4);
            nd.correct = s.null(5) ? -1 : static_cast<int>(s.i64(5));
            nd.ended = s.i64(6) != 0;
            nd.visits = static_cast<int>(s.i64(7));
            nd.value_sum = real_or_nan(s, 8);
            nd.started_at = real_or_nan(s, 9);
            nd.ended_at = real_or_nan(s, 10);
        }
    }
    if (tokens) {
        const std::string sql =
            std::string(
                "SELECT node_id, token_id, piece, logprob, entropy, varentropy, top, "
                "top_pieces, ") +
            (schema_ >= 5 ? "flags" : "0") + (schema_ >= 7 ? ", self_certainty" : ", NULL") +
            " FROM tokens WHERE run_id = ? ORDER BY node_id, idx";
        Stmt s(db_, sql.c_str());
        s.bind(1, id);
        while (s.step()) {
            int nid = static_cast<int>(s.i64(0));
            if (nid >= out.tree.size()) continue;
            TokenRecord t;
            t.id = static_cast<TokenId>(s.i64(1));
            t.piece = s.text(2);
            t.logprob = static_cast<float>(real_or_nan(s, 3));
            t.entropy = static_cast<float>(real_or_nan(s, 4));
            t.varentropy = static_cast<float>(real_or_nan(s, 5));
            t.top = storage::unpack_top(s.blob(6));
            t.top_pieces = pieces_from_json(s.text(7));
            t.thinking = (s.i64(8) & 1) != 0;
            t.forced = (s.i64(8) & 2) != 0;
            t.self_certainty = static_cast<float>(real_or_nan(s, 9));
            out.tree.at(nid).tokens.push_back(std::move(t));
        }
    }
    {
        Stmt s(db_, "SELECT node_id, scorer, value FROM scores WHERE run_id = ?");
        s.bind(1, id);
        while (s.step()) {
            int nid = static_cast<int>(s.i64(0));
            if (nid < out.tree.size()) out.tree.at(nid).scores[s.text(1)] = real_or_nan(s, 2);
        }
    }
    {  // the first tapped layer's hidden state per node
        Stmt s(db_, "SELECT node_id, data FROM latents WHERE run_id = ? ORDER BY node_id, layer");
        s.bind(1, id);
        while (s.step()) {
            int nid = static_cast<int>(s.i64(0));
            if (nid >= out.tree.size() || !out.tree.at(nid).hidden.empty()) continue;
            std::string b = s.blob(1);
            std::vector<float>& h = out.tree.at(nid).hidden;
            h.resize(b.size() / 2);
            for (size_t i = 0; i < h.size(); ++i) {
                uint16_t v;
                std::memcpy(&v, &b[i * 2], 2);
                h[i] = kernels::fp16_to_fp32(v);
            }
        }
    }
    {
        Stmt s(db_,
               "SELECT t, tokens, forward_passes, branches, kv_bytes, tokens_per_s FROM metrics "
               "WHERE run_id = ? ORDER BY t");
        s.bind(1, id);
        while (s.step()) {
            RunMetrics m;
            m.wall_seconds = s.f64(0);
            m.tokens_generated = s.i64(1);
            m.forward_passes = s.i64(2);
            m.branches_alive = static_cast<int>(s.i64(3));
            m.kv_bytes = s.i64(4);
            m.tokens_per_second = s.f64(5);
            out.metrics.push_back(m);
        }
    }
    // A node whose text was not flushed still has its tokens.
    for (const auto& n : out.tree.nodes())
        if (n.text.empty() && !n.tokens.empty()) {
            std::string t;
            for (const auto& tk : n.tokens) t += tk.piece;
            out.tree.at(n.id).text = t;
        }
    return out;
}

int64_t RunStore::import_run(const StoredRun& in) {
    require_writable();
    exec(db_, "BEGIN IMMEDIATE", "begin import");
    try {
        RunRow r = in.run;
        insert_run(db_, r);
        Stmt pidnull(db_, "UPDATE runs SET pid = NULL, pid_start = NULL WHERE id = ?");
        pidnull.bind(1, r.id).run();
        Stmt n(db_, storage::kInsertNode);
        Stmt t(db_, storage::kInsertToken);
        Stmt sc(db_, "INSERT INTO scores (run_id, node_id, scorer, value) VALUES (?,?,?,?)");
        for (const auto& nd : in.tree.nodes()) {
            storage::write_node(n, r.id, nd);
            for (size_t i = 0; i < nd.tokens.size(); ++i)
                storage::write_token(t, r.id, nd.id, static_cast<int64_t>(i), nd.tokens[i]);
            for (const auto& [k, v] : nd.scores) {
                sc.bind(1, r.id).bind(2, nd.id).bind(3, k).bind(4, v);
                sc.run();
            }
        }
        for (const auto& tag : in.run.tags) {
            Stmt tg(db_, "INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?,?)");
            tg.bind(1, r.id).bind(2, tag).run();
        }
        Stmt m(db_,
               "INSERT INTO metrics (run_id, t, tokens, forward_passes, branches, kv_bytes, "
               "tokens_per_s) VALUES (?,?,?,?,?,?,?)");
        for (const auto& x : in.metrics) {
            m.bind(1, r.id)
                .bind(2, x.wall_seconds)
                .bind(3, x.tokens_generated)
                .bind(4, x.forward_passes);
            m.bind(5, x.branches_alive).bind(6, x.kv_bytes).bind(7, x.tokens_per_second);
            m.run();
        }
        exec(db_, "COMMIT", "commit import");
        return r.id;
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void RunStore::rename(int64_t id, const std::string& name) {
    require_writable();
    Stmt s(db_, "UPDATE runs SET name = ? WHERE id = ?");
    s.bind(1, name).bind(2, id).run();
}
void RunStore::add_tag(int64_t id, const std::string& tag) {
    require_writable();
    Stmt s(db_, "INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)");
    s.bind(1, id).bind(2, tag).run();
}
void RunStore::remove_tag(int64_t id, const std::string& tag) {
    require_writable();
    Stmt s(db_, "DELETE FROM tags WHERE run_id = ? AND tag = ?");
    s.bind(1, id).bind(2, tag).run();
}
void RunStore::remove(int64_t id) {
    require_writable();
    Stmt s(db_, "DELETE FROM runs WHERE id = ?");
    s.bind(1, id).run();
}

}  // namespace rs
