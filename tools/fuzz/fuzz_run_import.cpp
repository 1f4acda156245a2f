// libFuzzer entry for a run's way in and out: any bytes, read as a JSON run
// export, must import into a real store (or fail with rs::Error), load back,
// and go through every export (JSON, Markdown, HTML, both CSVs) and the
// comparison; the exports must be valid UTF-8, and the JSON export must
// import again. Never a crash, a leak or an uncaught exception.
// Input starting with byte 0x01 is raw text instead (fields split at NUL:
// name, model, task, answer, prompt, then node texts and token pieces), stored
// as it is, bytes JSON could not carry included (invalid UTF-8, controls).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "reasonscope/error.h"
#include "reasonscope/run_export.h"
#include "reasonscope/run_store.h"
#include "reasonscope/text_safety.h"

namespace {

// One store per process, in a temporary folder removed at exit.
struct FuzzStore {
    std::string dir;
    std::unique_ptr<rs::RunStore> store;
    FuzzStore() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "fuzz_run_import.XXXXXX");
        dir = mkdtemp(tmpl.data()) ? tmpl : std::string(".");
        store = rs::RunStore::open(dir + "/runs.sqlite");
    }
    ~FuzzStore() {
        store.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_run_import: %s\n", what);
        std::abort();
    }
}

}  // namespace

// A run whose text fields are the input's NUL-separated parts.
rs::StoredRun raw_run(const uint8_t* data, size_t size) {
    std::vector<std::string> f;
    std::string cur;
    for (size_t i = 1; i < size; ++i) {
        if (data[i] == 0) {
            f.push_back(cur);
            cur.clear();
        } else
            cur += static_cast<char>(data[i]);
    }
    f.push_back(cur);
    const auto at = [&f](size_t i) { return i < f.size() ? f[i] : std::string(); };
    rs::StoredRun r;
    r.run.name = at(0);
    r.run.model_name = at(1);
    r.run.task_id = at(2);
    r.run.answer = at(3);
    r.run.prompt = at(4);
    r.run.strategy = "fuzz";
    r.run.tags = {at(0)};
    r.tree.add(-1);
    r.tree.at(0).text = r.run.prompt;
    for (size_t i = 5; i < f.size(); ++i) {
        const int k = r.tree.add(static_cast<int>((i - 5) / 2));  // a binary-ish tree
        r.tree.at(k).text = f[i];
        r.tree.at(k).answer = i % 3 == 0 ? f[i] : std::string();
        rs::TokenRecord t;
        t.id = static_cast<rs::TokenId>(i);
        t.piece = f[i];
        t.top = {{1, -0.5f}};
        t.top_pieces = {f[i]};
        r.tree.at(k).tokens.push_back(t);
        r.tree.at(k).scores[f[i]] = 0.5;
    }
    r.run.chosen_node = r.tree.size() - 1;
    return r;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static FuzzStore fs;
    rs::StoredRun in;
    if (size > 0 && data[0] == 0x01) {
        in = raw_run(data, size);
    } else {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(data, data + size);
        } catch (const nlohmann::json::exception&) {
            return 0;
        }
        try {
            in = rs::run_from_json(j);
        } catch (const rs::Error&) {
            return 0;
        }
    }
    int64_t id = 0;
    try {
        id = fs.store->import_run(in);
    } catch (const rs::Error&) {
        return 0;  // e.g. a value SQLite refuses
    }
    const rs::StoredRun r = fs.store->load(id);
    const std::string json =
        rs::run_to_json(r).dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::string md = rs::run_to_markdown(r), html = rs::run_to_html(r);
    const std::string tokens = rs::run_tokens_csv(r), nodes = rs::run_nodes_csv(r);
    check(rs::text::is_valid_utf8(json), "JSON export is not valid UTF-8");
    check(rs::text::is_valid_utf8(md), "Markdown export is not valid UTF-8");
    check(rs::text::is_valid_utf8(html), "HTML export is not valid UTF-8");
    check(rs::text::is_valid_utf8(tokens) && rs::text::is_valid_utf8(nodes),
          "CSV export is not valid UTF-8");
    // What `export --format json` wrote, `import` reads.
    const rs::StoredRun again = rs::run_from_json(nlohmann::json::parse(json));
    check(again.tree.size() == r.tree.size(), "JSON export re-imports with another tree");
    const nlohmann::json c = rs::compare_runs(r, in);
    const std::string text = rs::compare_to_text(c);
    check(rs::text::is_valid_utf8(c.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict)),
          "comparison JSON is not valid UTF-8");
    check(text.find('\x1b') == std::string::npos, "comparison text carries ESC");
    fs.store->remove(id);
    return 0;
}
