// reasonscope runs / show / export / import / compare: the run store from the CLI.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "core/export_run.h"
#include "reasonscope/error.h"
#include "reasonscope/json_limits.h"
#include "reasonscope/regular_file.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"

namespace rs::cli {
namespace {

int64_t run_id(const std::string& s) {
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end || v <= 0) throw UsageError{"'" + s + "' is not a run id"};
    return v;
}

std::unique_ptr<RunStore> open_store(const Args& a) {
    return RunStore::open(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
}

// Reading commands open the store read-only: they work on a store the user
// cannot write (and never wait for a writer's lock to migrate or mark runs).
std::unique_ptr<RunStore> open_store_to_read(const Args& a) {
    return RunStore::open_read_only(a.get("db").empty() ? RunStore::default_path() : a.get("db"));
}

}  // namespace

int cmd_runs(const Argv& argv) {
    Args a("runs", "[--db FILE] [--model M] [--strategy S] [--tag T] [--limit N] [--json]");
    a.option("db", "run store (default: $XDG_DATA_HOME/reasonscope/runs.sqlite)")
        .option("model", "filter: model name or path contains")
        .option("strategy", "filter: strategy id")
        .option("tag", "filter: tag")
        .option("status", "filter: status")
        .option("limit", "at most N runs", "50")
        .flag("json", "print JSON");
    if (!a.parse(argv)) return 0;
    auto st = open_store_to_read(a);
    RunFilter f{a.get("model"), a.get("strategy"), a.get("tag"), a.get("status"),
                a.get_int("limit", 0, 1 << 30)};
    auto runs = st->list(f);
    if (a.flag_set("json")) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& r : runs)
            j.push_back({{"id", r.id},
                         {"name", r.name},
                         {"created_at", r.created_at},
                         {"status", r.status},
                         {"status_reason", r.status_reason},
                         {"strategy", r.strategy},
                         {"model", r.model_name},
                         {"task", r.task_id},
                         {"answer", r.answer},
                         {"correct", r.correct},
                         {"tokens", r.tokens},
                         {"nodes", r.node_count},
                         {"tags", r.tags}});
        print_json(j);
        return 0;
    }
    std::printf("%5s  %-20s %-10s %-18s %-12s %-8s %-7s %7s %6s  %s\n", "id", "created", "status",
                "strategy", "task", "answer", "correct", "tokens", "nodes", "tags/name");
    for (const auto& r : runs) {
        std::string tags;
        for (const auto& t : r.tags) tags += "#" + field(t) + " ";
        std::printf("%5lld  %-20s %-10s %-18s %-12s %-8s %-7s %7lld %6lld  %s%s\n",
                    static_cast<long long>(r.id), field(r.created_at).c_str(),
                    field(r.status).c_str(), field(r.strategy).c_str(), field(r.task_id).c_str(),
                    r.answer.empty() ? "-" : field(r.answer).c_str(),
                    r.correct == 1   ? "yes"
                    : r.correct == 0 ? "no"
                                     : "-",
                    static_cast<long long>(r.tokens), static_cast<long long>(r.node_count),
                    tags.c_str(), field(r.name).c_str());
    }
    return 0;
}

int cmd_show(const Argv& argv) {
    Args a("show", "RUN [--db FILE] [--tag T] [--untag T] [--rename NAME] [--delete]");
    a.positional("RUN", "run id")
        .option("db", "run store")
        .option("tag", "add a tag")
        .option("untag", "remove a tag")
        .option("rename", "set the run's name")
        .flag("delete", "delete the run");
    if (!a.parse(argv)) return 0;
    const bool changes = a.flag_set("delete") || a.has("tag") || a.has("untag") || a.has("rename");
    auto st = changes ? open_store(a) : open_store_to_read(a);
    int64_t id = run_id(a.get("RUN"));
    if (!st->get(id)) throw Error(st->path() + ": no run " + std::to_string(id));
    if (a.flag_set("delete")) {
        st->remove(id);
        std::printf("deleted run %lld\n", static_cast<long long>(id));
        return 0;
    }
    if (a.has("tag")) st->add_tag(id, a.get("tag"));
    if (a.has("untag")) st->remove_tag(id, a.get("untag"));
    if (a.has("rename")) st->rename(id, a.get("rename"));
    const std::string md = lines(run_to_markdown(st->load(id)));
    std::fwrite(md.data(), 1, md.size(), stdout);
    return 0;
}

int cmd_export(const Argv& argv) {
    Args a("export", "RUN [--format html|json|csv|md] -o FILE [--db FILE]");
    a.positional("RUN", "run id")
        .option("format",
                "html, json, csv (tokens in FILE, nodes in FILE.nodes.csv) or md; default: by "
                "FILE's extension, else html")
        .option("o", "output file")
        .option("db", "run store");
    if (!a.parse(argv)) return 0;
    if (!a.has("o")) throw UsageError{"export: -o FILE is required"};
    const std::string out = a.get("o");
    app::ExportFormat fmt = app::export_format_of(out);
    if (a.has("format")) {
        const auto named = app::export_format_named(a.get("format"));
        if (!named)
            throw UsageError{"export: unknown format '" + a.get("format") +
                             "' (html, json, csv, md)"};
        fmt = *named;
    }
    auto st = open_store_to_read(a);
    const std::vector<std::string> written =
        app::export_run(st->load(run_id(a.get("RUN"))), out, fmt);
    std::string names;
    for (const std::string& w : written) names += (names.empty() ? "" : " and ") + w;
    std::printf("wrote %s\n", names.c_str());
    return 0;
}

int cmd_import(const Argv& argv) {
    Args a("import", "FILE.json [--db FILE]");
    a.positional("FILE", "a run exported with --format json").option("db", "run store");
    if (!a.parse(argv)) return 0;
    // A regular file of at most 4 GiB, nested at most kMaxJsonDepth deep.
    const nlohmann::json j = parse_json_bounded(
        read_regular_file(a.get("FILE"), uint64_t{4} << 30, "run export"), a.get("FILE"));
    StoredRun r = run_from_json(j);
    auto st = open_store(a);
    int64_t id = st->import_run(r);
    std::printf("imported as run %lld\n", static_cast<long long>(id));
    return 0;
}

int cmd_compare(const Argv& argv) {
    Args a("compare", "RUN_A RUN_B [--db FILE] [--json]");
    a.positional("RUN_A", "first run id")
        .positional("RUN_B", "second run id")
        .option("db", "run store")
        .flag("json", "print JSON");
    if (!a.parse(argv)) return 0;
    auto st = open_store_to_read(a);
    auto c = compare_runs(st->load(run_id(a.get("RUN_A"))), st->load(run_id(a.get("RUN_B"))));
    if (a.flag_set("json"))
        print_json(c);
    else
        std::fputs(compare_to_text(c).c_str(), stdout);
    return 0;
}

}  // namespace rs::cli
