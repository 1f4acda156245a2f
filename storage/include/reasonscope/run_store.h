// The run store: every run in one SQLite file (WAL). A RunRecorder is the
// store's RunObserver: the engine thread only appends events to a queue; a
// writer thread owning the write connection flushes them in one transaction
// every <= 100 ms or 10k rows. A run killed mid-way is marked incomplete
// the next time the store is opened; everything flushed before stays.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reasonscope/events.h"
#include "reasonscope/tree.h"

struct sqlite3;

namespace rs {

struct RunRow {
    int64_t id = 0;
    std::string name, created_at, finished_at, status = "running";
    std::string model_path, model_name, model_hash, backend;
    std::string backend_reason;  // why that backend ("asked for cpu", "auto: ...")
    int64_t model_bytes = 0;
    std::string strategy, params = "{}", suite, task_id, prompt, expected;
    int64_t seed = 0;
    std::string answer;
    int chosen_node = -1;
    int correct = -1;
    int64_t tokens = 0, forward_passes = 0, kv_peak_bytes = 0, node_count = 0;
    double wall_seconds = 0;
    std::string app_version, error;
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

class RunStore {
  public:
    // Opens or creates the database, applies pending migrations and marks
    // runs left "running" by dead processes as "incomplete". Throws rs::Error
    // (locked, corrupt, not a database, newer schema) naming the file.
    static std::unique_ptr<RunStore> open(const std::string& path);
    ~RunStore();
    const std::string& path() const { return path_; }
    int schema_version() const;
    static int latest_schema_version();

    int64_t begin_run(RunRow row);  // inserts the run as "running"
    // The observer that records a run's events (one per run).
    std::unique_ptr<RunRecorder> recorder(int64_t run_id);
    void finish_run(int64_t run_id, const RunRow& final_fields);

    std::vector<RunRow> list(const RunFilter& f = {}) const;
    std::optional<RunRow> get(int64_t id) const;
    StoredRun load(int64_t id) const;          // throws rs::Error for an unknown id
    int64_t import_run(const StoredRun& run);  // a whole run (new id)
    void rename(int64_t id, const std::string& name);
    void add_tag(int64_t id, const std::string& tag);
    void remove_tag(int64_t id, const std::string& tag);
    void remove(int64_t id);
    bool integrity_ok() const;

    // Default location: $XDG_DATA_HOME/reasonscope/runs.sqlite.
    static std::string default_path();

  private:
    RunStore() = default;
    std::string path_;
    sqlite3* db_ = nullptr;  // reads and run bookkeeping (the recorder has its own)
};

class RunRecorder final : public RunObserver {
  public:
    RunRecorder(const std::string& db_path, int64_t run_id);
    ~RunRecorder() override;  // flushes everything
    void on_event(const RunEvent& e) override;
    void flush();  // blocks until queued events are written
    int64_t rows_written() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rs
