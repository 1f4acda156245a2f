#include "models/runs_table_model.h"

namespace rs::views {

void RunsTableModel::set_runs(std::vector<RunRow> runs) {
    beginResetModel();
    runs_ = std::move(runs);
    endResetModel();
}

const RunRow* RunsTableModel::run_at(int row) const {
    return row >= 0 && row < static_cast<int>(runs_.size()) ? &runs_[static_cast<size_t>(row)]
                                                            : nullptr;
}

int RunsTableModel::rowCount(const QModelIndex& p) const {
    return p.isValid() ? 0 : static_cast<int>(runs_.size());
}
int RunsTableModel::columnCount(const QModelIndex& p) const {
    return p.isValid() ? 0 : ColumnCount;
}

QVariant RunsTableModel::data(const QModelIndex& index, int role) const {
    const RunRow* r = run_at(index.row());
    if (!r || index.column() < 0 || index.column() >= ColumnCount) return {};
    if (role == RunIdRole) return QVariant::fromValue<qlonglong>(r->id);
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
        case Id:
            return QVariant::fromValue<qlonglong>(r->id);
        case Created:
            return QString::fromStdString(r->created_at);
        case Status:
            return QString::fromStdString(r->status);
        case Strategy:
            return QString::fromStdString(r->strategy);
        case Model:
            return QString::fromStdString(r->model_name);
        case Task:
            return QString::fromStdString(r->task_id);
        case Answer:
            return QString::fromStdString(r->answer);
        case Correct:
            return r->correct == 1   ? QStringLiteral("yes")
                   : r->correct == 0 ? QStringLiteral("no")
                                     : QString();
        case Tokens:
            return QVariant::fromValue<qlonglong>(r->tokens);
        case Nodes:
            return QVariant::fromValue<qlonglong>(r->node_count);
        case Name: {
            QString s = QString::fromStdString(r->name);
            for (const auto& t : r->tags) s += " #" + QString::fromStdString(t);
            return s.trimmed();
        }
    }
    return {};
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"id",     "created", "status", "strategy", "model",      "task",
                                  "answer", "correct", "tokens", "nodes",    "name / tags"};
    return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace rs::views
