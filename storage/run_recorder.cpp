// The recorder's writer thread: events queue up under a mutex (the engine
// never waits on disk) and are written in one transaction per flush.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
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

    struct NodeState {
        int parent = -1, depth = 0, token_count = 0, correct = -1;
        NodeStatus status = NodeStatus::Open;
        std::string text, answer;
        bool ended = false, dirty = true;
    };
    std::map<int, NodeState> nodes;  // mirror, owned by the writer thread
    double t0 = -1;

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
            switch (e.kind) {
                case EventKind::NodeAdded: {
                    NodeState& n = nodes[e.node];
                    n.parent = e.parent;
                    n.depth =
                        e.parent >= 0 && nodes.count(e.parent) ? nodes[e.parent].depth + 1 : 0;
                    n.dirty = true;
                    break;
                }
                case EventKind::TokensAppended: {
                    NodeState& n = nodes[e.node];
                    for (const auto& t : e.tokens) {
                        storage::write_token(tok, run_id, e.node, n.token_count++, t);
                        ++rows;
                        n.text += t.piece;
                    }
                    n.dirty = true;
                    break;
                }
                case EventKind::NodeStatusChanged: {
                    NodeState& n = nodes[e.node];
                    n.status = e.status;
                    n.dirty = true;
                    break;
                }
                case EventKind::AnswerFound: {
                    NodeState& n = nodes[e.node];
                    n.answer = e.text;
                    n.correct = e.correct;
                    n.dirty = true;
                    break;
                }
                case EventKind::NodeScored:
                    score.bind(1, run_id).bind(2, e.node).bind(3, e.key).bind(4, e.value);
                    score.run();
                    ++rows;
                    break;
                case EventKind::Metrics:
                case EventKind::RunFinished: {
                    const RunMetrics& m = e.metrics;
                    metric.bind(1, run_id)
                        .bind(2, m.wall_seconds)
                        .bind(3, m.tokens_generated)
                        .bind(4, m.forward_passes);
                    metric.bind(5, m.branches_alive)
                        .bind(6, m.kv_bytes)
                        .bind(7, m.tokens_per_second);
                    metric.run();
                    ++rows;
                    if (e.kind == EventKind::RunFinished) {
                        Stmt u(db,
                               "UPDATE runs SET status=?, answer=?, correct=?, tokens=?, "
                               "forward_passes=?, wall_seconds=?, "
                               "kv_peak_bytes=?, node_count=?, chosen_node=? WHERE id=?");
                        u.bind(1, e.key)
                            .bind(2, e.text)
                            .bind_opt(3, e.correct)
                            .bind(4, m.tokens_generated);
                        u.bind(5, m.forward_passes)
                            .bind(6, m.wall_seconds)
                            .bind(7, m.kv_peak_bytes)
                            .bind(8, m.nodes);
                        u.bind_opt(9, e.node).bind(10, run_id).run();
                    }
                    break;
                }
                case EventKind::HiddenState: {
                    const size_t dim = e.layers.empty() ? 0 : e.hidden.size() / e.layers.size();
                    for (size_t li = 0; li < e.layers.size(); ++li) {
                        std::vector<uint16_t> h(dim);
                        for (size_t i = 0; i < dim; ++i)
                            h[i] = kernels::fp32_to_fp16(e.hidden[li * dim + i]);
                        latent.bind(1, run_id)
                            .bind(2, e.node)
                            .bind(3, e.layers[li])
                            .bind_blob(4, h.data(), h.size() * 2);
                        latent.run();
                        ++rows;
                    }
                    break;
                }
                case EventKind::RunStarted:
                    break;
            }
        }
        for (auto& [id, n] : nodes) {
            if (!n.dirty) continue;
            storage::write_node(
                node, run_id,
                {id, n.parent, n.depth, n.status, n.text, n.answer, n.correct, n.ended, 0, 0.0});
            ++rows;
            n.dirty = false;
        }
        Stmt cnt(db, "UPDATE runs SET node_count = ? WHERE id = ? AND status = 'running'");
        cnt.bind(1, static_cast<int64_t>(nodes.size())).bind(2, run_id).run();
        exec(db, "COMMIT", "commit flush");
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
