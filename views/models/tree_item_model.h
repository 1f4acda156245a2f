// The reasoning tree as a Qt item model (for outlines, tests, and any view
// that wants a standard model): one row per child step; columns: step text,
// status, answer, score, mean entropy, tokens.
#pragma once

#include <QAbstractItemModel>

#include "models/run_model.h"

namespace rs::views {

class TreeItemModel : public QAbstractItemModel {
    Q_OBJECT
  public:
    enum Column { Text, Status, Answer, Score, Entropy, Tokens, ColumnCount };
    enum Role { NodeIdRole = Qt::UserRole + 1 };
    explicit TreeItemModel(RunModel* run, QObject* parent = nullptr);

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;
    QModelIndex index_of(int node) const;

  private:
    RunModel* run_;
    int shown_ = 0;  // nodes the model has announced (rows are only ever appended)
    void sync();
};

}  // namespace rs::views
