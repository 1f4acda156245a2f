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
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
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

sqlite3* open_connection(const std::string& path, bool create) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        throw Error(path + ": cannot open run store: " + msg);
    }
    sqlite3_busy_timeout(db, 3000);
    char* err = nullptr;
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
                     nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        sqlite3_close(db);
        if (msg.find("not a database") != std::string::npos)
            throw Error(path + ": not a Reasonscope run store (file is not an SQLite database)");
        throw Error(path + ": cannot open run store: " + msg);
    }
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

const char* kRunCols =
    "id, name, created_at, finished_at, status, model_path, model_name, model_bytes, model_hash, "
    "backend, strategy, "
    "params, suite, task_id, prompt, expected, seed, answer, correct, tokens, forward_passes, "
    "wall_seconds, "
    "kv_peak_bytes, node_count, app_version, error, chosen_node, backend_reason, status_reason";

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
    return r;
}

void insert_run(sqlite3* db, RunRow& r) {
    Stmt s(db,
           "INSERT INTO runs (name, created_at, finished_at, status, pid, model_path, model_name, "
           "model_bytes, model_hash, "
           "backend, strategy, params, suite, task_id, prompt, expected, seed, answer, correct, "
           "tokens, forward_passes, "
           "wall_seconds, kv_peak_bytes, node_count, app_version, error, chosen_node, "
           "backend_reason, status_reason) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
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
    st->db_ = storage::open_connection(path, true);
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
    // Runs whose writer died are incomplete (what was flushed stays); a
    // reason the writer stored first (rows it gave up) is kept.
    std::vector<std::pair<int64_t, int64_t>> dead;
    {
        Stmt s(st->db_, "SELECT id, pid FROM runs WHERE status = 'running'");
        while (s.step()) {
            auto pid = static_cast<pid_t>(s.i64(1));
            bool alive = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) && pid != getpid();
            if (!alive) dead.emplace_back(s.i64(0), s.i64(1));
        }
    }
    // Best effort: a store on a full disk still opens for reading (the run
    // is marked by a later open).
    try {
        for (const auto& [id, pid] : dead) {
            Stmt u(st->db_,
                   "UPDATE runs SET status = 'incomplete', pid = NULL, status_reason = "
                   "CASE WHEN status_reason IS NULL THEN ?1 ELSE status_reason || '; ' || ?1 END "
                   "WHERE id = ?2");
            u.bind(1, "the process writing the run (pid " + std::to_string(pid) +
                          ") ended before finishing it; rows written until then are kept")
                .bind(2, id)
                .run();
        }
    } catch (const storage::DbError&) {
    }
    return st;
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
    row.status = "running";
    retry_locked(db_, write_, 0, [&] { insert_run(db_, row); });
    return row.id;
}

void RunStore::set_write_options(WriteOptions o) {
    write_ = std::move(o);
}

std::unique_ptr<RunRecorder> RunStore::recorder(int64_t run_id) {
    return std::unique_ptr<RunRecorder>(new RunRecorder(path_, run_id, write_, losses_));
}

RunRow RunStore::finish_run(int64_t id, const RunRow& r) {
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
            Stmt s(db_,
                   "UPDATE runs SET status=?, finished_at=?, answer=?, correct=?, tokens=?, "
                   "forward_passes=?, wall_seconds=?, "
                   "kv_peak_bytes=?, node_count=?, error=?, chosen_node=?, pid=NULL, "
                   "status_reason=? WHERE id=?");
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
            s.bind(13, id).run();
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
    std::string sql = std::string("SELECT ") + kRunCols + " FROM runs WHERE 1=1";
    if (!f.model.empty()) sql += " AND (model_name LIKE ?1 OR model_path LIKE ?1)";
    if (!f.strategy.empty()) sql += " AND strategy = ?2";
    if (!f.tag.empty()) sql += " AND id IN (SELECT run_id FROM tags WHERE tag = ?3)";
    if (!f.status.empty()) sql += " AND status = ?4";
    sql += " ORDER BY id DESC";
    if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
    Stmt s(db_, sql.c_str());
    if (!f.model.empty()) s.bind(1, "%" + f.model + "%");
    if (!f.strategy.empty()) s.bind(2, f.strategy);
    if (!f.tag.empty()) s.bind(3, f.tag);
    if (!f.status.empty()) s.bind(4, f.status);
    std::vector<RunRow> out;
    while (s.step()) out.push_back(read_run(s));
    for (auto& r : out) {
        Stmt t(db_, "SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
        t.bind(1, r.id);
        while (t.step()) r.tags.push_back(t.text(0));
    }
    return out;
}

std::optional<RunRow> RunStore::get(int64_t id) const {
    Stmt s(db_, (std::string("SELECT ") + kRunCols + " FROM runs WHERE id = ?").c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    RunRow r = read_run(s);
    Stmt t(db_, "SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
    t.bind(1, id);
    while (t.step()) r.tags.push_back(t.text(0));
    return r;
}

StoredRun RunStore::load(int64_t id) const {
    auto row = get(id);
    if (!row) throw Error(path_ + ": no run " + std::to_string(id));
    StoredRun out;
    out.run = *row;
    {
        Stmt s(db_,
               "SELECT node_id, parent_id, status, text, answer, correct, ended, visits, value_sum "
               "FROM nodes "
               "WHERE run_id = ? ORDER BY node_id");
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
        }
    }
    {
        Stmt s(db_,
               "SELECT node_id, token_id, piece, logprob, entropy, varentropy, top, top_pieces "
               "FROM tokens WHERE run_id = ? "
               "ORDER BY node_id, idx");
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
    exec(db_, "BEGIN IMMEDIATE", "begin import");
    try {
        RunRow r = in.run;
        insert_run(db_, r);
        Stmt pidnull(db_, "UPDATE runs SET pid = NULL WHERE id = ?");
        pidnull.bind(1, r.id).run();
        Stmt n(db_, storage::kInsertNode);
        Stmt t(db_, storage::kInsertToken);
        Stmt sc(db_, "INSERT INTO scores (run_id, node_id, scorer, value) VALUES (?,?,?,?)");
        for (const auto& nd : in.tree.nodes()) {
            storage::write_node(n, r.id,
                                {nd.id, nd.parent, nd.depth, nd.status, nd.text, nd.answer,
                                 nd.correct, nd.ended, nd.visits, nd.value_sum});
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
    Stmt s(db_, "UPDATE runs SET name = ? WHERE id = ?");
    s.bind(1, name).bind(2, id).run();
}
void RunStore::add_tag(int64_t id, const std::string& tag) {
    Stmt s(db_, "INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)");
    s.bind(1, id).bind(2, tag).run();
}
void RunStore::remove_tag(int64_t id, const std::string& tag) {
    Stmt s(db_, "DELETE FROM tags WHERE run_id = ? AND tag = ?");
    s.bind(1, id).bind(2, tag).run();
}
void RunStore::remove(int64_t id) {
    Stmt s(db_, "DELETE FROM runs WHERE id = ?");
    s.bind(1, id).run();
}

}  // namespace rs
