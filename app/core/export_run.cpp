#include "core/export_run.h"

#include <filesystem>
#include <fstream>

#include "reasonscope/error.h"
#include "reasonscope/run_export.h"

namespace rs::app {
namespace {

void write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary);
    f << data;
    f.close();
    if (!f) throw Error(path + ": cannot write");
}

}  // namespace

std::optional<ExportFormat> export_format_named(const std::string& name) {
    if (name == "html") return ExportFormat::Html;
    if (name == "json") return ExportFormat::Json;
    if (name == "md") return ExportFormat::Markdown;
    if (name == "csv") return ExportFormat::Csv;
    return std::nullopt;
}

ExportFormat export_format_of(const std::string& path) {
    const std::string ext = std::filesystem::path(path).extension().string();
    if (ext == ".json") return ExportFormat::Json;
    if (ext == ".md") return ExportFormat::Markdown;
    if (ext == ".csv") return ExportFormat::Csv;
    return ExportFormat::Html;
}

std::string nodes_csv_path(const std::string& path) {
    std::filesystem::path p(path);
    return p.replace_extension(".nodes" + p.extension().string()).string();
}

std::vector<std::string> export_run(const StoredRun& run, const std::string& path,
                                    ExportFormat format) {
    switch (format) {
        case ExportFormat::Html:
            write_file(path, run_to_html(run));
            break;
        case ExportFormat::Json:
            write_file(path, run_to_json(run).dump(1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace));
            break;
        case ExportFormat::Markdown:
            write_file(path, run_to_markdown(run));
            break;
        case ExportFormat::Csv: {
            const std::string nodes = nodes_csv_path(path);
            write_file(path, run_tokens_csv(run));
            write_file(nodes, run_nodes_csv(run));
            return {path, nodes};
        }
    }
    return {path};
}

}  // namespace rs::app
