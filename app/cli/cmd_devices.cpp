// reasonscope devices: the compute backends this build has, whether each can
// run here and, if not, why; the CUDA devices with their memory and
// compute capability.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "reasonscope/backend.h"
#include "reasonscope/cuda_backend.h"

namespace rs::cli {

int cmd_devices(const Argv& argv) {
    Args a("devices", "[--json]");
    a.flag("json", "print JSON");
    if (!a.parse(argv)) return 0;
    const CudaStatus& cuda = cuda_status();
    nlohmann::json j;
    j["backends"] = nlohmann::json::array();
    std::string auto_pick;
    for (const BackendInfo& b : backends()) {
        std::string why;
        const bool ok = b.available(why);
        if (ok && auto_pick.empty()) auto_pick = b.name;
        j["backends"].push_back({{"name", b.name},
                                 {"description", b.description},
                                 {"available", ok},
                                 {"why_not", why}});
    }
    j["auto"] = auto_pick;
    auto& c = j["cuda"];
    c = {{"built", cuda.built},
         {"module", cuda.module},
         {"driver", cuda.driver},
         {"loaded", cuda.loaded},
         {"runtime_version", cuda.runtime_version},
         {"driver_version", cuda.driver_version},
         {"chosen", cuda.chosen},
         {"why_not", cuda.why_not},
         {"devices", nlohmann::json::array()}};
    for (const CudaDevice& d : cuda.devices)
        c["devices"].push_back(
            {{"index", d.index},
             {"name", d.name},
             {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
             {"memory_bytes", d.memory_total},
             {"multiprocessors", d.sm_count},
             {"usable", d.usable},
             {"why_not", d.why_not}});
    if (a.flag_set("json")) {
        std::puts(j.dump(2).c_str());
        return 0;
    }
    for (const auto& b : j["backends"]) {
        const bool ok = b["available"].get<bool>();
        std::printf(
            "%-5s %s%s\n", b["name"].get<std::string>().c_str(),
            ok ? "available" : "unavailable: ", ok ? "" : b["why_not"].get<std::string>().c_str());
    }
    std::printf("auto  uses %s\n", auto_pick.c_str());
    if (cuda.runtime_version)
        std::printf("CUDA runtime %d.%d, driver %d.%d\n", cuda.runtime_version / 1000,
                    cuda.runtime_version % 1000 / 10, cuda.driver_version / 1000,
                    cuda.driver_version % 1000 / 10);
    for (const CudaDevice& d : cuda.devices)
        std::printf(
            "  device %d: %s, sm_%d%d, %d multiprocessors, %.1f GiB%s%s\n", d.index, d.name.c_str(),
            d.cc_major, d.cc_minor, d.sm_count, static_cast<double>(d.memory_total) / (1 << 30),
            d.index == cuda.chosen ? " (used)" : "", d.usable ? "" : (" - " + d.why_not).c_str());
    return 0;
}

}  // namespace rs::cli
