#include "cli/defaults.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "reasonscope/error.h"

namespace rs::cli {
namespace fs = std::filesystem;

static std::string find_resource(const std::string& rel) {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    std::vector<fs::path> roots = {RS_SOURCE_DIR};
    if (!ec) {
        roots.push_back(exe.parent_path().parent_path().parent_path());  // build/bin -> source
        roots.push_back(exe.parent_path().parent_path() / "share" / "reasonscope");  // installed
    }
    for (const auto& r : roots)
        if (fs::exists(r / rel, ec)) return (r / rel).string();
    return {};
}

std::string default_model_path() {
    if (const char* e = std::getenv("REASONSCOPE_MODEL")) return e;
    return find_resource("resources/models/reasoner.gguf");
}

std::string model_path_or_default(const std::string& given) {
    if (!given.empty()) return given;
    std::string p = default_model_path();
    if (p.empty())
        throw Error(
            "no --model given and the bundled model (resources/models/reasoner.gguf) was not "
            "found");
    return p;
}

std::string default_tasks_dir() {
    std::string p = find_resource("resources/tasks");
    return p;
}

}  // namespace rs::cli
