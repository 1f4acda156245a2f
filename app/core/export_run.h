// Writing a stored run to files, for the CLI's `export` and the window's
// Export: one choice of writer per format, so both write the same bytes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reasonscope/run_store.h"

namespace rs::app {

enum class ExportFormat { Html, Json, Markdown, Csv };

// "html", "json", "md" or "csv"; nullopt for anything else.
std::optional<ExportFormat> export_format_named(const std::string& name);
// By the path's extension (.json, .md, .csv; anything else is HTML).
ExportFormat export_format_of(const std::string& path);
// CSV is two tables: the tokens go to `path`, the nodes beside it, with
// ".nodes" before the extension (run.csv -> run.nodes.csv).
std::string nodes_csv_path(const std::string& path);

// Writes the run in the format and returns the paths written (two for CSV:
// tokens, then nodes). Throws rs::Error naming a file that cannot be written.
std::vector<std::string> export_run(const StoredRun& run, const std::string& path,
                                    ExportFormat format);

}  // namespace rs::app
