#include "models/tree_item_model.h"

#include <algorithm>

namespace rs::views {

// internalId = node id + 1 for a node's index (0 is never used), so
// parent() can find the node; the root node (prompt) is the single top row.
TreeItemModel::TreeItemModel(RunModel* run, QObject* parent)
    : QAbstractItemModel(parent), run_(run) {
    connect(run_, &RunModel::changed, this, &TreeItemModel::sync);
    shown_ = run_->tree().size();
}

void TreeItemModel::sync() {
    const ReasoningTree& t = run_->tree();
    if (t.size() < shown_) {  // a different run: start over
        beginResetModel();
        shown_ = t.size();
        endResetModel();
        return;
    }
    // New nodes are appended as children of existing nodes, in id order.
    for (int id = shown_; id < t.size(); ++id) {
        const Node& n = t.at(id);
        if (n.parent < 0) {
            beginInsertRows({}, 0, 0);
            shown_ = id + 1;
            endInsertRows();
        } else {
            const auto& sib = t.at(n.parent).children;
            int row = static_cast<int>(std::find(sib.begin(), sib.end(), id) - sib.begin());
            beginInsertRows(index_of(n.parent), row, row);
            shown_ = id + 1;
            endInsertRows();
        }
    }
    // Text, status and scores of existing nodes change as the run goes.
    for (int id = 0; id < shown_; ++id) {
        QModelIndex i = index_of(id);
        emit dataChanged(i, i.siblingAtColumn(ColumnCount - 1));
    }
}

QModelIndex TreeItemModel::index_of(int node) const {
    if (node < 0 || node >= shown_) return {};
    const Node& n = run_->tree().at(node);
    if (n.parent < 0) return createIndex(0, 0, quintptr(node + 1));
    const auto& sib = run_->tree().at(n.parent).children;
    int row = static_cast<int>(std::find(sib.begin(), sib.end(), node) - sib.begin());
    return createIndex(row, 0, quintptr(node + 1));
}

QModelIndex TreeItemModel::index(int row, int column, const QModelIndex& parent) const {
    if (row < 0 || column < 0 || column >= ColumnCount) return {};
    if (!parent.isValid())
        return row == 0 && shown_ > 0 ? createIndex(0, column, quintptr(1)) : QModelIndex();
    int p = static_cast<int>(parent.internalId()) - 1;
    const auto& ch = run_->tree().at(p).children;
    int visible = 0;
    for (int c : ch)
        if (c < shown_) ++visible;
    if (row >= visible) return {};
    return createIndex(row, column, quintptr(ch[static_cast<size_t>(row)] + 1));
}

QModelIndex TreeItemModel::parent(const QModelIndex& child) const {
    if (!child.isValid()) return {};
    int id = static_cast<int>(child.internalId()) - 1;
    int p = run_->tree().at(id).parent;
    return p < 0 ? QModelIndex() : index_of(p);
}

int TreeItemModel::rowCount(const QModelIndex& parent) const {
    if (parent.column() > 0) return 0;
    if (!parent.isValid()) return shown_ > 0 ? 1 : 0;
    int id = static_cast<int>(parent.internalId()) - 1;
    int n = 0;
    for (int c : run_->tree().at(id).children)
        if (c < shown_) ++n;
    return n;
}

int TreeItemModel::columnCount(const QModelIndex&) const {
    return ColumnCount;
}

QVariant TreeItemModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) return {};
    int id = static_cast<int>(index.internalId()) - 1;
    const Node& n = run_->tree().at(id);
    if (role == NodeIdRole) return id;
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
    switch (index.column()) {
        case Text: {
            QString s =
                QString::fromStdString(n.parent < 0 ? run_->info().prompt : n.text).trimmed();
            return role == Qt::ToolTipRole ? s : s.left(80);
        }
        case Status:
            return QString(status_name(n.status));
        case Answer:
            return QString::fromStdString(n.answer);
        case Score: {
            auto it = n.scores.find(run_->score_key().toStdString());
            return it == n.scores.end() ? QVariant() : QVariant(it->second);
        }
        case Entropy:
            return n.tokens.empty() ? QVariant() : QVariant(n.mean_entropy());
        case Tokens:
            return static_cast<int>(n.tokens.size());
    }
    return {};
}

QVariant TreeItemModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"step", "status", "answer", "score", "entropy", "tokens"};
    return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace rs::views
