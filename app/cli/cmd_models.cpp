#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/synth.h"
#include "reasonscope/cpu_backend.h"
#include "reasonscope/cuda_backend.h"
#include "reasonscope/error.h"
#include "reasonscope/gguf.h"
#include "reasonscope/model.h"
#include "reasonscope/regular_file.h"
#include "reasonscope/tokenizer.h"

namespace rs::cli {
namespace {

std::string human_bytes(uint64_t b) {
    char buf[32];
    if (b >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1ull << 30));
    else if (b >= (1ull << 20))
        std::snprintf(buf, sizeof buf, "%.2f MiB", b / double(1ull << 20));
    else if (b >= 1024)
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    return buf;
}

// Whether the engine can run the file, and if not what it lacks: an
// architecture it does not know, a tensor it does not find or whose shape is
// wrong, a weight type the CPU backend does not compute (`cpu`, empty: it
// can); and where it can, why the CUDA backend cannot (`cuda`, empty: it can).
struct Support {
    std::string cpu, cuda;
};
Support support_of(const std::string& path) {
    try {
        auto m = Model::load(path);
        Support s{cpu_unsupported_reason(*m), {}};
        if (s.cpu.empty()) s.cuda = cuda_unsupported_reason(*m);
        return s;
    } catch (const Error& e) {
        std::string why = e.what();
        if (why.starts_with(path + ": ")) why = why.substr(path.size() + 2);
        return {why, {}};
    }
}

int models_info(const Argv& argv) {
    Args a("models info", "FILE [--json] [--metadata]");
    a.positional("FILE", "a GGUF model file")
        .flag("json", "print JSON")
        .flag("metadata", "list every metadata key");
    if (!a.parse(argv)) return 0;
    auto f = GgufFile::open(a.get("FILE"));
    std::string arch = f->get_string("general.architecture", "?");
    auto key = [&](const std::string& k) { return arch + "." + k; };
    std::map<std::string, std::pair<int, uint64_t>> by_type;
    uint64_t total = 0, params = 0;
    for (const auto& t : f->tensors()) {
        auto& e = by_type[std::string(type_name(t.type))];
        e.first++;
        e.second += t.n_bytes;
        total += t.n_bytes;
        params += static_cast<uint64_t>(t.n_elements());
    }
    std::string tok_kind = f->get_string("tokenizer.ggml.model", "none");
    int64_t n_vocab = f->has("tokenizer.ggml.tokens")
                          ? static_cast<int64_t>(f->get_array("tokenizer.ggml.tokens").items.size())
                          : 0;

    nlohmann::json j;
    j["file"] = f->path();
    j["gguf_version"] = f->version();
    j["file_bytes"] = f->file_size();
    j["architecture"] = arch;
    j["name"] = f->get_string("general.name", "");
    for (const char* k :
         {"context_length", "embedding_length", "block_count", "feed_forward_length",
          "attention.head_count", "attention.head_count_kv"}) {
        if (f->has(key(k))) j["hparams"][k] = f->get_int(key(k));
    }
    for (const char* k : {"rope.freq_base", "attention.layer_norm_rms_epsilon"}) {
        if (f->has(key(k))) j["hparams"][k] = f->get_float(key(k));
    }
    j["tokenizer"] = {{"model", tok_kind},
                      {"pre", f->get_string("tokenizer.ggml.pre", "")},
                      {"n_vocab", n_vocab}};
    j["tensor_count"] = f->tensors().size();
    j["tensor_bytes"] = total;
    j["parameters"] = params;
    for (const auto& [t, e] : by_type)
        j["tensors_by_type"][t] = {{"count", e.first}, {"bytes", e.second}};
    if (a.flag_set("metadata"))
        for (const auto& k : f->keys()) j["metadata"][k] = f->find(k)->to_string();
    const Support support = support_of(f->path());
    const std::string& unsupported = support.cpu;
    j["supported"] = unsupported.empty();
    if (!unsupported.empty()) j["unsupported_reason"] = unsupported;
    if (unsupported.empty()) {
        j["cuda_supported"] = support.cuda.empty();
        if (!support.cuda.empty()) j["cuda_unsupported_reason"] = support.cuda;
    }

    // The file's strings are anyone's bytes: valid JSON, printable text.
    if (a.flag_set("json")) {
        print_json(j);
        return 0;
    }
    std::printf("file          %s (%s, GGUF v%u)\n", field(f->path()).c_str(),
                human_bytes(f->file_size()).c_str(), f->version());
    std::printf("architecture  %s%s%s\n", field(arch).c_str(),
                j["name"].get<std::string>().empty() ? "" : "  name: ",
                field(j["name"].get<std::string>()).c_str());
    if (j.contains("hparams"))
        for (auto& [k, v] : j["hparams"].items())
            std::printf("  %-32s %s\n", field(k).c_str(), field(json_text(v, -1)).c_str());
    std::printf("tokenizer     %s%s%s, %lld tokens\n", field(tok_kind).c_str(),
                f->has("tokenizer.ggml.pre") ? " / pre " : "",
                field(f->get_string("tokenizer.ggml.pre", "")).c_str(),
                static_cast<long long>(n_vocab));
    std::printf("parameters    %.2fM\n", params / 1e6);
    std::printf("tensors       %zu, %s\n", f->tensors().size(), human_bytes(total).c_str());
    for (const auto& [t, e] : by_type)
        std::printf("  %-8s %5d tensors  %s\n", t.c_str(), e.first, human_bytes(e.second).c_str());
    std::string runs = unsupported.empty() ? "yes (cpu" : "no: " + unsupported;
    if (unsupported.empty())
        runs += support.cuda.empty() ? ", cuda)" : "; not on cuda: " + support.cuda + ")";
    std::printf("supported     %s\n", field(runs).c_str());
    if (a.flag_set("metadata"))
        for (const auto& k : f->keys())
            std::printf("  %-44s %s\n", field(k).c_str(), field(f->find(k)->to_string()).c_str());
    return 0;
}

int models_synth(const Argv& argv) {
    std::string shapes;
    for (const auto& s : synth_shapes()) shapes += (shapes.empty() ? "" : ", ") + s;
    Args a("models synth", "--shape NAME --type T -o FILE [--seed S]");
    a.option("shape", "one of: " + shapes)
        .option("type",
                "weight type: F32, F16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_K, Q5_K, Q6_K, IQ4_NL, or a "
                "per-tensor mix as llama.cpp makes it: Q4_K_M, Q5_K_M, IQ4_XS")
        .option("o", "output GGUF file")
        .option("seed", "random seed", "1");
    if (!a.parse(argv)) return 0;
    if (!a.has("shape") || !a.has("type") || !a.has("o"))
        throw UsageError{"models synth: --shape, --type and -o are required"};
    check_replaceable(a.get("o"), "GGUF file");  // at once, not after synthesizing
    synth_model(a.get("shape"), a.get("type"), a.get("o"),
                static_cast<uint64_t>(a.get_int("seed", 0, 1 << 30)));
    std::printf("wrote %s\n", a.get("o").c_str());
    return 0;
}

}  // namespace

int cmd_models(const Argv& argv) {
    if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
        std::puts(
            "usage: reasonscope models SUBCOMMAND\n"
            "  info FILE [--json] [--metadata]   inspect a GGUF model\n"
            "  synth --shape NAME --type T -o FILE   write a random-weight model of a real shape");
        return argv.empty() ? 2 : 0;
    }
    Argv rest(argv.begin() + 1, argv.end());
    if (argv[0] == "info") return models_info(rest);
    if (argv[0] == "synth") return models_synth(rest);
    throw UsageError{"models: unknown subcommand '" + argv[0] +
                     "' (see reasonscope models --help)"};
}

}  // namespace rs::cli
