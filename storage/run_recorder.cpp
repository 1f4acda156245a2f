// The recorder's writer thread: events queue up under a mutex (the engine
// never waits on disk) and are written in one transaction per flush.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "cpu/fp16.h"
#include "reasonscope/run_store.h"
#include "rows.h"
#include "sqlite_util.h"

namespace rs {

using storage::exec;
using storage::Stmt;

struct RunRecorder::Impl {
    std::string path;
    int64_t run_id;
    sqlite3* db = nullptr;
    std::mutex mu;
    std::condition_variable cv, done_cv;
    std::vector<RunEvent> queue;
    bool stop = false;
    bool flush_now = false;  // flush() asked: write without waiting for the 100 ms tick
    uint64_t enqueued = 0, written = 0;
    int64_t rows = 0;
    std::thread thread;

    // The run's tree, kept with rs::apply_event() exactly as the search keeps its
    // own (owned by the writer thread); node rows are written from it.
    ReasoningTree tree;
    std::set<int> dirty;  // nodes whose row changed since the last commit

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
            try {
                write(batch);
            } catch (const std::exception& e) {
                // A write failure loses this batch only; the engine keeps going.
                std::fprintf(stderr, "reasonscope: run store write failed: %s\n", e.what());
                sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            }
            lk.lock();
            written = upto;
            done_cv.notify_all();
        }
    }

    void write(const std::vector<RunEvent>& batch) {
        exec(db, "BEGIN IMMEDIATE", "begin flush");
        Stmt tok(db, storage::kInsertToken);
        Stmt score(
            db, "INSERT OR REPLACE INTO scores (run_id, node_id, scorer, value) VALUES (?,?,?,?)");
        Stmt metric(db,
                    "INSERT INTO metrics (run_id, t, tokens, forward_passes, branches, kv_bytes, "
                    "tokens_per_s) VALUES (?,?,?,?,?,?,?)");
        Stmt latent(
            db, "INSERT OR REPLACE INTO latents (run_id, node_id, layer, data) VALUES (?,?,?,?)");
        Stmt node(db, storage::kInsertNode);
        for (const RunEvent& e : batch) {
            apply_event(tree, e);
            const int id = event_node(e);
            if (id >= tree.size()) continue;  // not in the tree: apply_event() ignored it
            if (id >= 0) dirty.insert(id);
            if (const auto* t = std::get_if<TokensAppended>(&e)) {
                const Node& n = tree.at(id);
                for (size_t i = n.tokens.size() - t->tokens.size(); i < n.tokens.size(); ++i) {
                    storage::write_token(tok, run_id, id, static_cast<int64_t>(i), n.tokens[i]);
                    ++rows;
                }
            } else if (const auto* sc = std::get_if<NodeScored>(&e)) {
                score.bind(1, run_id)
                    .bind(2, id)
                    .bind(3, sc->scorer)
                    .bind(4, tree.at(id).scores.at(sc->scorer));
                score.run();
                ++rows;
            } else if (const auto* h = std::get_if<HiddenState>(&e)) {
                // Every tapped layer is stored (the tree keeps the first).
                const size_t dim = h->layers.empty() ? 0 : h->hidden.size() / h->layers.size();
                for (size_t li = 0; li < h->layers.size(); ++li) {
                    std::vector<uint16_t> v(dim);
                    for (size_t i = 0; i < dim; ++i)
                        v[i] = kernels::fp32_to_fp16(h->hidden[li * dim + i]);
                    latent.bind(1, run_id)
                        .bind(2, id)
                        .bind(3, h->layers[li])
                        .bind_blob(4, v.data(), v.size() * 2);
                    latent.run();
                    ++rows;
                }
            } else if (const auto* m = std::get_if<MetricsSampled>(&e)) {
                write_metrics(metric, m->metrics);
            } else if (const auto* f = std::get_if<RunFinished>(&e)) {
                const RunMetrics& x = f->metrics;
                write_metrics(metric, x);
                Stmt u(db,
                       "UPDATE runs SET status=?, answer=?, correct=?, tokens=?, "
                       "forward_passes=?, wall_seconds=?, "
                       "kv_peak_bytes=?, node_count=?, chosen_node=? WHERE id=?");
                u.bind(1, f->status)
                    .bind(2, f->answer)
                    .bind_opt(3, f->correct)
                    .bind(4, x.tokens_generated);
                u.bind(5, x.forward_passes)
                    .bind(6, x.wall_seconds)
                    .bind(7, x.kv_peak_bytes)
                    .bind(8, x.nodes);
                u.bind_opt(9, f->node).bind(10, run_id).run();
            }
        }
        for (int id : dirty) {
            const Node& n = tree.at(id);
            storage::write_node(node, run_id,
                                {id, n.parent, n.depth, n.status, n.text, n.answer, n.correct,
                                 n.ended, n.visits, n.value_sum});
            ++rows;
        }
        Stmt cnt(db, "UPDATE runs SET node_count = ? WHERE id = ? AND status = 'running'");
        cnt.bind(1, static_cast<int64_t>(tree.size())).bind(2, run_id).run();
        exec(db, "COMMIT", "commit flush");
        dirty.clear();  // (after a failed flush the rows are written again next time)
    }

    void write_metrics(Stmt& metric, const RunMetrics& m) {
        metric.bind(1, run_id).bind(2, m.wall_seconds).bind(3, m.tokens_generated);
        metric.bind(4, m.forward_passes).bind(5, m.branches_alive).bind(6, m.kv_bytes);
        metric.bind(7, m.tokens_per_second).run();
        ++rows;
    }
};

RunRecorder::RunRecorder(const std::string& db_path, int64_t run_id)
    : impl_(std::make_unique<Impl>()) {
    impl_->path = db_path;
    impl_->run_id = run_id;
    impl_->db = storage::open_connection(db_path, false);
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

void RunRecorder::flush() {
    std::unique_lock<std::mutex> lk(impl_->mu);
    uint64_t target = impl_->enqueued;
    if (impl_->written >= target) return;
    impl_->flush_now = true;
    impl_->cv.notify_one();
    impl_->done_cv.wait(lk, [&] { return impl_->written >= target; });
}

int64_t RunRecorder::rows_written() const {
    std::lock_guard<std::mutex> lk(impl_->mu);
    return impl_->rows;
}

}  // namespace rs
