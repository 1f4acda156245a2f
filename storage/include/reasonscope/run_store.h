// The run store: every run in one SQLite file (WAL). A RunRecorder is the
// store's RunObserver: the engine thread only appends events to a queue; a
// writer thread owning the write connection flushes them in one transaction
// every <= 100 ms or 10k rows. A run killed mid-way is marked incomplete
// the next time the store is opened; everything flushed before stays.
//
// No silent loss (docs/reliability.md): a writer that meets a database
// locked by another connection waits with growing sleeps (WriteOptions) and
// says so (RunRecorder::status()); a batch it still cannot write (the wait
// ran out, the disk is full) makes the run "incomplete" with the reason in
// status_reason, and finish_run() keeps that status and returns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reasonscope/events.h"
#include "reasonscope/tree.h"

struct sqlite3;

namespace rs {

// The score a counterfactual branch's nodes carry when it is shown grafted
// onto its parent's tree (app/core/counterfactual.h): the branch run's id.
inline constexpr const char* kCounterfactualRunScore = "counterfactual_run";

struct RunRow {
    int64_t id = 0;
    std::string name, created_at, finished_at, status = "running";
    std::string model_path, model_name, model_hash, backend;
    std::string backend_reason;  // why that backend ("asked for cpu", "auto: ...")
    int64_t model_bytes = 0;
    std::string strategy, params = "{}", suite, task_id, prompt, expected;
    // What the model was given: the chat template's output ("" without one),
    // and the prompt settings as JSON (chat, template SHA-256, thinking
    // markers and budget, step delimiters, answer format).
    std::string prompt_rendered, prompt_settings;
    // The model file's type (general.file_type, "Q4_K_M") and its
    // tensor-type mix as JSON ({"Q4_K": 97, "F32": 49}).
    std::string model_file_type, tensor_types;
    // A run on an inference server: the server and the cost it reported, as
    // JSON (schema 6); empty for the local engine.
    std::string server;
    // A counterfactual branch (schema 8): the run it departs from (0: none),
    // the node and the token index there, and the token put in place of the
    // sampled one (-1: not known).
    int64_t parent_run = 0;
    int parent_node = -1, parent_token = -1, forced_token = -1;
    int64_t seed = 0;
    std::string answer;
    int chosen_node = -1;
    int correct = -1;
    int64_t tokens = 0, forward_passes = 0, kv_peak_bytes = 0, node_count = 0;
    double wall_seconds = 0;
    std::string app_version, error;
    // Why the run is "incomplete" (rows its writer could not store, or its
    // process ended before finishing it); empty otherwise.
    std::string status_reason;
    std::vector<std::string> tags;
};

struct StoredRun {
    RunRow run;
    ReasoningTree tree;
    std::vector<RunMetrics> metrics;  // samples over time (wall_seconds = t)
};

struct RunFilter {
    std::string model, strategy, tag, status;
    int limit = 0;
};

class RunRecorder;

// What a recorder's writer is doing about the database, for a status bar or
// a CLI line.
struct RecorderStatus {
    bool waiting = false;       // waiting for the database (another connection holds its lock)
    double waited_seconds = 0;  // how long the current wait has lasted
    std::string last_error;     // the last failed write's message (empty: none yet)
    std::string lost;           // why rows are missing; empty while every row is stored
    // Rows missing: token, score, latent and metric rows given up, and node
    // rows not written yet (the next commit that succeeds rewrites those).
    int64_t rows_lost = 0;
};

// How writes wait out a database locked by another connection (a large
// import, a SQL tool's open transaction): retries with sleeps growing from
// first_sleep to max_sleep, for at most max_wait in all per batch; then the
// batch is given up and the run is marked incomplete. Errors other than a
// lock (disk full, I/O error) give a batch up at once.
struct WriteOptions {
    std::chrono::milliseconds max_wait{std::chrono::seconds(120)};
    std::chrono::milliseconds first_sleep{20};
    std::chrono::milliseconds max_sleep{2000};
    // Told on the writer thread whenever the status changes (starts or stops
    // waiting, gives rows up). Must not block.
    std::function<void(int64_t run_id, const RecorderStatus&)> on_status;
};

namespace storage {
struct LossLog;
}

class RunStore {
  public:
    // Opens or creates the database, applies pending migrations and marks
    // runs left "running" by dead processes as "incomplete". Throws rs::Error
    // (locked, corrupt, not a database, newer schema) naming the file.
    // A file of someone else's (an SQLite database with tables, not ours) is
    // refused, not given our tables.
    static std::unique_ptr<RunStore> open(const std::string& path);
    // For reading commands: opens an existing store read-only (SQLITE_OPEN_READONLY,
    // or immutable where its directory cannot take the -shm file), so a store
    // the user cannot write (file mode 0444, a read-only directory or mount)
    // can still be listed, shown, exported and compared; nothing is migrated
    // or written (an older schema is read as it is). Runs left "running" by a
    // dead process read as "incomplete" all the same. A missing or empty file
    // is opened as open() does. The writing methods throw rs::Error.
    static std::unique_ptr<RunStore> open_read_only(const std::string& path);
    bool read_only() const { return read_only_; }
    ~RunStore();
    const std::string& path() const { return path_; }
    int schema_version() const;
    static int latest_schema_version();

    // Inserts the run as "running" (waiting for a locked database as
    // WriteOptions say; on_status is told with run id 0).
    int64_t begin_run(RunRow row);
    // How this store's recorders (made after the call) and finish_run() wait
    // for a locked database.
    void set_write_options(WriteOptions o);
    const WriteOptions& write_options() const { return write_; }
    // The observer that records a run's events (one per run).
    std::unique_ptr<RunRecorder> recorder(int64_t run_id);
    // Stores the final fields (flush the run's recorder first) and returns
    // the run as stored. When a recorder of this store gave rows of the run
    // up (or marked it so), the run is "incomplete" with status_reason saying
    // why, whatever final_fields.status said ("error" stays "error", with the
    // reason too). Waits for a locked database as WriteOptions say; throws
    // rs::Error when the row cannot be written.
    RunRow finish_run(int64_t run_id, const RunRow& final_fields);

    std::vector<RunRow> list(const RunFilter& f = {}) const;
    std::optional<RunRow> get(int64_t id) const;
    StoredRun load(int64_t id) const;  // throws rs::Error for an unknown id
    // The run without its tokens (nodes, their text, scores, hidden states,
    // metrics): a run of a million tokens reads in a fraction of the time,
    // for a view that shows its tree while the rest is read.
    StoredRun load_outline(int64_t id) const;
    int64_t import_run(const StoredRun& run);  // a whole run (new id)
    void rename(int64_t id, const std::string& name);
    void add_tag(int64_t id, const std::string& tag);
    void remove_tag(int64_t id, const std::string& tag);
    void remove(int64_t id);
    bool integrity_ok() const;

    // Default location: $XDG_DATA_HOME/reasonscope/runs.sqlite.
    static std::string default_path();

  private:
    RunStore();
    void require_writable() const;
    StoredRun load_parts(int64_t id, bool tokens) const;
    std::string path_;
    sqlite3* db_ = nullptr;  // reads and run bookkeeping (the recorder has its own)
    int schema_ = 0;         // the file's schema version (older only when read-only)
    bool read_only_ = false;
    WriteOptions write_;
    std::shared_ptr<storage::LossLog> losses_;  // what this store's recorders gave up, per run
};

class RunRecorder final : public RunObserver {
  public:
    RunRecorder(const std::string& db_path, int64_t run_id, WriteOptions options = {});
    ~RunRecorder() override;  // flushes everything (waiting for a lock as the options say)
    void on_event(const RunEvent& e) override;
    // Blocks until every queued event is written or given up (a lock held
    // past max_wait, a full disk); true when no row of the run is missing.
    bool flush();
    int64_t rows_written() const;
    RecorderStatus status() const;
    bool waiting() const { return status().waiting; }
    // Why rows are missing; empty while every row is stored.
    std::string lost() const { return status().lost; }

  private:
    friend class RunStore;
    RunRecorder(const std::string& db_path, int64_t run_id, WriteOptions options,
                std::shared_ptr<storage::LossLog> log);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rs
