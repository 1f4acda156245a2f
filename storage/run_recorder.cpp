// The recorder's writer thread: events queue up under a mutex (the engine
// never waits on disk) and are written in one transaction per flush. A
// transaction that meets a lock held by another connection is retried with
// growing sleeps (events arriving meanwhile join it); one that still fails
// is given up, counted and reported (RunRecorder::status(), the store's
// LossLog, runs.status_reason), never dropped silently.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "cpu/fp16.h"
#include "loss_log.h"
#include "reasonscope/run_store.h"
#include "rows.h"
#include "sqlite_util.h"

namespace rs {

using storage::exec;
using storage::Stmt;
using Clock = std::chrono::steady_clock;

namespace {

// Rows of applied events not yet committed. Tokens and scores are read from
// the writer's tree when written (a node's tokens only grow), so a retried
// transaction writes the same rows again.
struct Pending {
    struct TokenRef {
        int node;
        size_t idx;
    };
    struct ScoreRef {
        int node;
        std::string scorer;
    };
    struct Latent {
        int node, layer;
        std::vector<uint16_t> data;
    };
    std::vector<TokenRef> tokens;
    std::vector<ScoreRef> scores;
    std::vector<Latent> latents;
    std::vector<RunMetrics> metrics;
    std::optional<RunFinished> finished;

    int64_t rows() const {
        return static_cast<int64_t>(tokens.size() + scores.size() + latents.size() +
                                    metrics.size());
    }
    void clear() { *this = Pending(); }
};

}  // namespace

struct RunRecorder::Impl {
    std::string path;
    int64_t run_id = 0;
    WriteOptions opt;
    std::shared_ptr<storage::LossLog> log;  // the store's (may be null)
    sqlite3* db = nullptr;

    mutable std::mutex mu;
    std::condition_variable cv, done_cv;
    std::vector<RunEvent> queue;
    bool stop = false;
    bool flush_now = false;              // flush() asked: write without waiting for the 100 ms tick
    uint64_t enqueued = 0, written = 0;  // events queued; events written or given up
    int64_t rows = 0;
    RecorderStatus status;
    std::thread thread;

    // Owned by the writer thread. The run's tree, kept with rs::apply_event()
    // exactly as the search keeps its own; node rows are written from it.
    ReasoningTree tree;
    std::set<int> dirty;  // nodes whose row changed since the last commit
    Pending pending;
    storage::LossLog::Loss lost;  // what this recorder gave up

    void loop() {
        std::unique_lock<std::mutex> lk(mu);
        while (true) {
            cv.wait_for(lk, std::chrono::milliseconds(100),
                        [&] { return stop || flush_now || queue.size() >= 10000; });
            flush_now = false;
            if (queue.empty()) {
                if (stop) return;
                continue;
            }
            std::vector<RunEvent> batch;
            batch.swap(queue);
            uint64_t upto = enqueued;
            lk.unlock();
            prepare(batch);
            commit(upto);
            lk.lock();
        }
    }

    // Applies the events to the tree and notes the rows they add.
    void prepare(const std::vector<RunEvent>& batch) {
        for (const RunEvent& e : batch) {
            apply_event(tree, e);
            const int id = event_node(e);
            if (id >= tree.size()) continue;  // not in the tree: apply_event() ignored it
            if (id >= 0) dirty.insert(id);
            if (const auto* t = std::get_if<TokensAppended>(&e)) {
                const Node& n = tree.at(id);
                for (size_t i = n.tokens.size() - t->tokens.size(); i < n.tokens.size(); ++i)
                    pending.tokens.push_back({id, i});
            } else if (const auto* sc = std::get_if<NodeScored>(&e)) {
                pending.scores.push_back({id, sc->scorer});
            } else if (const auto* h = std::get_if<HiddenState>(&e)) {
                // Every tapped layer is stored (the tree keeps the first).
                const size_t dim = h->layers.empty() ? 0 : h->hidden.size() / h->layers.size();
                for (size_t li = 0; li < h->layers.size(); ++li) {
                    std::vector<uint16_t> v(dim);
                    for (size_t i = 0; i < dim; ++i)
                        v[i] = kernels::fp32_to_fp16(h->hidden[li * dim + i]);
                    pending.latents.push_back({id, h->layers[li], std::move(v)});
                }
            } else if (const auto* m = std::get_if<MetricsSampled>(&e)) {
                pending.metrics.push_back(m->metrics);
            } else if (const auto* f = std::get_if<RunFinished>(&e)) {
                pending.metrics.push_back(f->metrics);
                pending.finished = *f;
            }
        }
    }

    // Writes what is pending, waiting out a lock; gives it up when that
    // fails. Marks events up to `upto` handled either way.
    void commit(uint64_t upto) {
        const Clock::time_point start = Clock::now();
        auto sleep = std::max(opt.first_sleep, std::chrono::milliseconds(1));
        while (true) {
            std::string err;
            bool locked = false;
            try {
                const int64_t n = write();
                finish(upto, n);
                return;
            } catch (const storage::DbError& e) {
                err = e.what();
                locked = e.locked();
            } catch (const std::exception& e) {
                err = e.what();
            }
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            const auto waited = Clock::now() - start;
            if (!locked || waited >= opt.max_wait) {
                if (locked)
                    err =
                        "gave up waiting after " +
                        std::to_string(
                            std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()) +
                        " ms: " + err;
                give_up(upto, err);
                return;
            }
            set_status([&](RecorderStatus& s) {
                s.waiting = true;
                s.waited_seconds = std::chrono::duration<double>(waited).count();
                s.last_error = err;
            });
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(opt.max_wait - waited);
            std::this_thread::sleep_for(std::min(sleep, left + std::chrono::milliseconds(1)));
            sleep = std::min(sleep * 2, std::max(opt.max_sleep, opt.first_sleep));
            // Events that arrived meanwhile join this transaction.
            std::vector<RunEvent> more;
            {
                std::lock_guard<std::mutex> lk(mu);
                more.swap(queue);
                upto = enqueued;
            }
            prepare(more);
        }
    }

    // One transaction; returns the rows it wrote.
    int64_t write() {
        exec(db, "BEGIN IMMEDIATE", "begin flush");
        int64_t n = 0;
        {
            Stmt tok(db, storage::kInsertToken);
            for (const auto& t : pending.tokens) {
                storage::write_token(tok, run_id, t.node, static_cast<int64_t>(t.idx),
                                     tree.at(t.node).tokens[t.idx]);
                ++n;
            }
            Stmt score(db,
                       "INSERT OR REPLACE INTO scores (run_id, node_id, scorer, value) VALUES "
                       "(?,?,?,?)");
            for (const auto& s : pending.scores) {
                score.bind(1, run_id)
                    .bind(2, s.node)
                    .bind(3, s.scorer)
                    .bind(4, tree.at(s.node).scores.at(s.scorer));
                score.run();
                ++n;
            }
            Stmt latent(db,
                        "INSERT OR REPLACE INTO latents (run_id, node_id, layer, data) VALUES "
                        "(?,?,?,?)");
            for (const auto& l : pending.latents) {
                latent.bind(1, run_id)
                    .bind(2, l.node)
                    .bind(3, l.layer)
                    .bind_blob(4, l.data.data(), l.data.size() * 2);
                latent.run();
                ++n;
            }
            Stmt metric(db,
                        "INSERT INTO metrics (run_id, t, tokens, forward_passes, branches, "
                        "kv_bytes, tokens_per_s) VALUES (?,?,?,?,?,?,?)");
            for (const RunMetrics& m : pending.metrics) {
                metric.bind(1, run_id).bind(2, m.wall_seconds).bind(3, m.tokens_generated);
                metric.bind(4, m.forward_passes).bind(5, m.branches_alive).bind(6, m.kv_bytes);
                metric.bind(7, m.tokens_per_second).run();
                ++n;
            }
            if (pending.finished) write_finished(*pending.finished);
            Stmt node(db, storage::kInsertNode);
            for (int id : dirty) {
                storage::write_node(node, run_id, tree.at(id));
                ++n;
            }
            Stmt cnt(db, "UPDATE runs SET node_count = ? WHERE id = ? AND status = 'running'");
            cnt.bind(1, static_cast<int64_t>(tree.size())).bind(2, run_id).run();
            // Once rows were given up every commit says so; node rows given
            // up are whole again now (dirty held them).
            if (lost.missing() > 0) {
                storage::LossLog::Loss now = lost;
                now.nodes = 0;
                Stmt u(db, "UPDATE runs SET status_reason = ? WHERE id = ?");
                if (now.missing() > 0)
                    u.bind(1, storage::LossLog::describe(now));
                else
                    u.bind_null(1);
                u.bind(2, run_id).run();
            }
        }
        exec(db, "COMMIT", "commit flush");
        return n;
    }

    void write_finished(const RunFinished& f) {
        const RunMetrics& x = f.metrics;
        // A run whose rows were given up is incomplete (an error stays an error).
        // (Node rows given up are written in this same commit.)
        const std::string status = lost.rows > 0 && f.status != "error" ? "incomplete" : f.status;
        Stmt u(db,
               "UPDATE runs SET status=?, answer=?, correct=?, tokens=?, "
               "forward_passes=?, wall_seconds=?, "
               "kv_peak_bytes=?, node_count=?, chosen_node=? WHERE id=?");
        u.bind(1, status).bind(2, f.answer).bind_opt(3, f.correct).bind(4, x.tokens_generated);
        u.bind(5, x.forward_passes)
            .bind(6, x.wall_seconds)
            .bind(7, x.kv_peak_bytes)
            .bind(8, x.nodes);
        u.bind_opt(9, f.node).bind(10, run_id).run();
    }

    void finish(uint64_t upto, int64_t n) {
        pending.clear();
        dirty.clear();
        bool changed = false;
        if (lost.nodes > 0) {  // the node rows given up are written now
            lost.nodes = 0;
            if (lost.missing() == 0) lost = {};
            if (log) log->set(run_id, lost);
            changed = true;
        }
        {
            std::lock_guard<std::mutex> lk(mu);
            rows += n;
            changed = changed || status.waiting;
            status.waiting = false;
            status.waited_seconds = 0;
            status.lost = lost.missing() > 0 ? storage::LossLog::describe(lost) : std::string();
            status.rows_lost = lost.missing();
        }
        if (changed && opt.on_status) opt.on_status(run_id, snapshot());
        handled(upto);
    }

    // Events up to `upto` are written or given up: flush() may return.
    void handled(uint64_t upto) {
        {
            std::lock_guard<std::mutex> lk(mu);
            written = upto;
        }
        done_cv.notify_all();
    }

    void give_up(uint64_t upto, const std::string& err) {
        const bool first_loss = lost.missing() == 0;
        lost.rows += pending.rows();
        lost.tokens += static_cast<int64_t>(pending.tokens.size());
        // Node rows stay dirty: the next commit that succeeds writes them
        // whole (and takes them off the count).
        lost.nodes = static_cast<int64_t>(dirty.size());
        if (lost.first.empty()) lost.first = err;
        lost.last = err;
        if (log) log->set(run_id, lost);
        pending.clear();
        const std::string why = storage::LossLog::describe(lost);
        // Best effort: the lock or the full disk may refuse this too; the
        // store's LossLog still tells finish_run().
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK) {
            try {
                Stmt u(db, "UPDATE runs SET status_reason = ? WHERE id = ?");
                u.bind(1, why).bind(2, run_id).run();
                exec(db, "COMMIT", "commit");
            } catch (const std::exception&) {
                sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            }
        }
        if (first_loss)  // later losses only add to the count
            std::fprintf(stderr, "reasonscope: run %lld: %s\n", static_cast<long long>(run_id),
                         why.c_str());
        {
            std::lock_guard<std::mutex> lk(mu);
            status.waiting = false;
            status.waited_seconds = 0;
            status.last_error = err;
            status.lost = why;
            status.rows_lost = lost.missing();
        }
        if (opt.on_status) opt.on_status(run_id, snapshot());
        handled(upto);
    }

    template <typename F>
    void set_status(F&& change) {
        bool first = false;
        {
            std::lock_guard<std::mutex> lk(mu);
            first = !status.waiting;
            change(status);
        }
        if (first && opt.on_status) opt.on_status(run_id, snapshot());
    }

    RecorderStatus snapshot() const {
        std::lock_guard<std::mutex> lk(mu);
        return status;
    }
};

RunRecorder::RunRecorder(const std::string& db_path, int64_t run_id, WriteOptions options)
    : RunRecorder(db_path, run_id, std::move(options), nullptr) {}

RunRecorder::RunRecorder(const std::string& db_path, int64_t run_id, WriteOptions options,
                         std::shared_ptr<storage::LossLog> log)
    : impl_(std::make_unique<Impl>()) {
    impl_->path = db_path;
    impl_->run_id = run_id;
    impl_->opt = std::move(options);
    impl_->log = std::move(log);
    impl_->db = storage::open_connection(db_path, false);
    // Short waits inside SQLite; the writer's own back-off does the rest, so
    // a lock shows as status().waiting at once.
    const auto busy = std::min<int64_t>(100, impl_->opt.max_wait.count());
    sqlite3_busy_timeout(impl_->db, static_cast<int>(std::max<int64_t>(busy, 1)));
    impl_->thread = std::thread([this] { impl_->loop(); });
}

RunRecorder::~RunRecorder() {
    {
        std::lock_guard<std::mutex> lk(impl_->mu);
        impl_->stop = true;
    }
    impl_->cv.notify_all();
    impl_->thread.join();
    sqlite3_close(impl_->db);
}

void RunRecorder::on_event(const RunEvent& e) {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->queue.push_back(e);
    ++impl_->enqueued;
    if (impl_->queue.size() >= 10000) impl_->cv.notify_one();
}

bool RunRecorder::flush() {
    std::unique_lock<std::mutex> lk(impl_->mu);
    uint64_t target = impl_->enqueued;
    if (impl_->written < target) {
        impl_->flush_now = true;
        impl_->cv.notify_one();
        impl_->done_cv.wait(lk, [&] { return impl_->written >= target; });
    }
    return impl_->status.lost.empty();
}

int64_t RunRecorder::rows_written() const {
    std::lock_guard<std::mutex> lk(impl_->mu);
    return impl_->rows;
}

RecorderStatus RunRecorder::status() const {
    return impl_->snapshot();
}

}  // namespace rs
