// Stored runs as a table for the runs browser (sortable through a proxy).
#pragma once

#include <QAbstractTableModel>
#include <vector>

#include "reasonscope/run_store.h"

namespace rs::views {

class RunsTableModel : public QAbstractTableModel {
    Q_OBJECT
  public:
    enum Column {
        Id,
        Created,
        Status,
        Strategy,
        Params,  // the strategy's parameters, compact ("n=8 temperature=0.8")
        Model,
        Task,
        Answer,
        Correct,
        Tokens,
        Passes,
        Seconds,
        Nodes,
        Seed,
        Name,  // name, tags and, for a counterfactual branch, its parent run
        ColumnCount
    };
    enum Role { RunIdRole = Qt::UserRole + 1 };
    explicit RunsTableModel(QObject* parent = nullptr) : QAbstractTableModel(parent) {}
    void set_runs(std::vector<RunRow> runs);
    // One run added or updated in place (by id): a run that has just
    // started is listed before the next refresh.
    void upsert(const RunRow& run);
    const RunRow* run_at(int row) const;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

  private:
    std::vector<RunRow> runs_;
};

}  // namespace rs::views
