// One model for live and stored runs (the Tracy idea): a RunModel holds the
// run's tree, signals and metrics, fed either by RunEvents from the engine
// thread (applied on the UI thread in coalesced batches) or by a StoredRun
// loaded from the database. Every view reads it and repaints on changed().
#pragma once

#include <QObject>
#include <vector>

#include "reasonscope/events.h"
#include "reasonscope/run_store.h"
#include "reasonscope/tree.h"

namespace rs::views {

class RunModel : public QObject {
    Q_OBJECT
  public:
    explicit RunModel(QObject* parent = nullptr);

    void clear();
    void begin_live(const RunRow& info);  // a run about to start
    void set_info(const RunRow& info);    // the run's description (keeps the tree)
    // Live updates, in order: each event changes the tree through rs::apply_event()
    // (the search's own function), plus the model's metrics and run info.
    void apply(const std::vector<RunEvent>& events);
    // A stored run (moved in: a run of a million tokens is not copied).
    void load(StoredRun run);

    const ReasoningTree& tree() const { return tree_; }
    const RunRow& info() const { return info_; }
    const std::vector<RunMetrics>& metrics() const { return metrics_; }
    bool live() const { return live_; }
    bool finished() const { return finished_; }
    // A live run the user paused (the search waits between steps); cleared
    // when a run starts or ends. stateChanged() follows a change.
    bool paused() const { return paused_; }
    void set_paused(bool paused);
    int selected() const { return selected_; }
    std::vector<int> selected_path() const;
    // Entropy of every generated token, in arrival order (for sparklines).
    const std::vector<float>& entropy_trace() const { return entropy_trace_; }
    // The primary score key (first scorer seen), for colouring.
    const QString& score_key() const { return score_key_; }

  public slots:
    void select(int node);

  signals:
    void changed();  // tree, signals or metrics changed
    // Another run takes the model (a live run starts, a stored run is loaded,
    // or it is cleared); changed() follows. Views drop per-run state (zoom).
    void runReset();
    void selectionChanged(int node);
    void runFinished();
    void stateChanged();  // paused or resumed

  private:
    void reset_run();  // forget the tree, signals and selection (keeps info_)
    ReasoningTree tree_;
    RunRow info_;
    std::vector<RunMetrics> metrics_;
    std::vector<float> entropy_trace_;
    QString score_key_;
    int selected_ = -1;
    bool live_ = false, finished_ = false, paused_ = false;
};

}  // namespace rs::views
