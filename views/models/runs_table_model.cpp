#include "models/runs_table_model.h"

#include <QStringList>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace rs::views {

namespace {

// "n=8 temperature=0.8": the parameters' JSON, compact; as stored when it
// is not an object.
QString params_summary(const std::string& params) {
    const auto j = nlohmann::json::parse(params.empty() ? "{}" : params, nullptr, false);
    if (!j.is_object()) return QString::fromStdString(params);
    QStringList parts;
    for (const auto& [k, v] : j.items())
        parts << QString::fromStdString(k) + "=" +
                     QString::fromStdString(v.is_string() ? v.get<std::string>() : v.dump());
    return parts.join(' ');
}

}  // namespace

void RunsTableModel::set_runs(std::vector<RunRow> runs) {
    // Rows are matched by run id, not reset: a refresh removes the runs that
    // are gone, updates the others in place and adds the new ones at the
    // end, so selections and persistent indexes stay on their runs (the
    // view's sorting proxy puts new rows in order).
    std::unordered_map<int64_t, size_t> incoming;
    for (size_t i = 0; i < runs.size(); ++i) incoming.emplace(runs[i].id, i);
    for (int r = static_cast<int>(runs_.size()) - 1; r >= 0; --r) {
        if (incoming.count(runs_[static_cast<size_t>(r)].id)) continue;
        int first = r;  // a run of consecutive removed rows in one step
        while (first > 0 && !incoming.count(runs_[static_cast<size_t>(first - 1)].id)) --first;
        beginRemoveRows({}, first, r);
        runs_.erase(runs_.begin() + first, runs_.begin() + r + 1);
        endRemoveRows();
        r = first;
    }
    std::unordered_map<int64_t, size_t> have;
    for (size_t i = 0; i < runs_.size(); ++i) have.emplace(runs_[i].id, i);
    std::vector<RunRow> added;
    for (RunRow& row : runs) {
        auto it = have.find(row.id);
        if (it == have.end()) {
            added.push_back(std::move(row));
            continue;
        }
        runs_[it->second] = std::move(row);
        const int r = static_cast<int>(it->second);
        emit dataChanged(index(r, 0), index(r, ColumnCount - 1));
    }
    if (added.empty()) return;
    const int at = static_cast<int>(runs_.size());
    beginInsertRows({}, at, at + static_cast<int>(added.size()) - 1);
    for (RunRow& row : added) runs_.push_back(std::move(row));
    endInsertRows();
}

void RunsTableModel::upsert(const RunRow& run) {
    for (size_t i = 0; i < runs_.size(); ++i)
        if (runs_[i].id == run.id) {
            runs_[i] = run;
            const int r = static_cast<int>(i);
            emit dataChanged(index(r, 0), index(r, ColumnCount - 1));
            return;
        }
    const int at = static_cast<int>(runs_.size());
    beginInsertRows({}, at, at);
    runs_.push_back(run);
    endInsertRows();
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
    if (role == Qt::TextAlignmentRole) {
        const int c = index.column();
        return c == Id || c == Tokens || c == Passes || c == Seconds || c == Nodes || c == Seed
                   ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                   : QVariant();
    }
    if (role == Qt::ToolTipRole && index.column() == Params)
        return QString::fromStdString(r->params);
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
        case Params:
            return params_summary(r->params);
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
        case Passes:
            return QVariant::fromValue<qlonglong>(r->forward_passes);
        case Seconds:  // a number, so the column sorts by it; shown rounded
            return std::round(r->wall_seconds * 100) / 100;
        case Nodes:
            return QVariant::fromValue<qlonglong>(r->node_count);
        case Seed:
            return QVariant::fromValue<qlonglong>(r->seed);
        case Name: {
            QString s = QString::fromStdString(r->name);
            for (const auto& t : r->tags) s += " #" + QString::fromStdString(t);
            if (r->parent_run > 0) s += QString(" (branch of run %1)").arg(r->parent_run);
            return s.trimmed();
        }
    }
    return {};
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation o, int role) const {
    if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"id",     "created", "status", "strategy", "parameters",
                                  "model",  "task",    "answer", "correct",  "tokens",
                                  "passes", "seconds", "nodes",  "seed",     "name / tags"};
    static_assert(std::size(names) == ColumnCount);
    return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

}  // namespace rs::views
