// NVML through dlopen: the handful of entry points llmux needs, declared here with NVML's C ABI (nvml.h is not a
// build dependency). Without NVML, AMD cards' sysfs counters (amdgpu: mem_info_vram_used/total) give per-device
// figures (no per-process ones). Neither: the null probe, said once.
#include <dlfcn.h>
#include <glob.h>

#include <fstream>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>

#include "worker/gpu.hpp"

namespace llmux {

namespace {

using nvmlReturn = int;
using nvmlDevice = void*;
constexpr nvmlReturn kSuccess = 0;
constexpr nvmlReturn kInsufficientSize = 7;

struct NvmlMemory {
  unsigned long long total, free, used;
};
struct NvmlProcess {  // nvmlProcessInfo_t (the _v2 and _v3 queries)
  unsigned int pid;
  unsigned long long used;
  unsigned int gpu_instance, compute_instance;
};

struct Nvml {
  void* lib = nullptr;
  nvmlReturn (*init)() = nullptr;
  nvmlReturn (*shutdown)() = nullptr;
  nvmlReturn (*count)(unsigned*) = nullptr;
  nvmlReturn (*handle)(unsigned, nvmlDevice*) = nullptr;
  nvmlReturn (*memory)(nvmlDevice, NvmlMemory*) = nullptr;
  nvmlReturn (*name)(nvmlDevice, char*, unsigned) = nullptr;
  nvmlReturn (*compute)(nvmlDevice, unsigned*, NvmlProcess*) = nullptr;
  nvmlReturn (*graphics)(nvmlDevice, unsigned*, NvmlProcess*) = nullptr;

  template <class F>
  bool sym(F& f, std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (void* p = ::dlsym(lib, n)) {
        f = reinterpret_cast<F>(p);
        return true;
      }
    }
    return false;
  }
  // "" on success, else why NVML is off.
  std::string load() {
    lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return "libnvidia-ml.so.1 not found";
    const bool ok = sym(init, {"nvmlInit_v2", "nvmlInit"}) && sym(shutdown, {"nvmlShutdown"}) &&
                    sym(count, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"}) &&
                    sym(handle, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"}) &&
                    sym(memory, {"nvmlDeviceGetMemoryInfo"}) && sym(name, {"nvmlDeviceGetName"}) &&
                    sym(compute, {"nvmlDeviceGetComputeRunningProcesses_v3",
                                  "nvmlDeviceGetComputeRunningProcesses_v2"});
    sym(graphics, {"nvmlDeviceGetGraphicsRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v2"});
    if (!ok) return "libnvidia-ml.so.1 lacks the functions llmux needs (driver older than R450?)";
    if (init() != kSuccess) return "nvmlInit failed (no NVIDIA driver loaded?)";
    return "";
  }
};

class NvmlProbe final : public GpuProbe {
 public:
  explicit NvmlProbe(Nvml n) : n_(n) {}
  ~NvmlProbe() override {
    n_.shutdown();
    ::dlclose(n_.lib);
  }
  NvmlProbe(const NvmlProbe&) = delete;
  NvmlProbe& operator=(const NvmlProbe&) = delete;
  std::string name() const override { return "nvml"; }
  bool per_process() const override { return true; }

  std::vector<GpuDevice> devices() override {
    std::vector<GpuDevice> out;
    unsigned n = 0;
    if (n_.count(&n) != kSuccess) return out;
    for (unsigned i = 0; i < n && i < 64; ++i) {
      nvmlDevice d = nullptr;
      NvmlMemory m{};
      if (n_.handle(i, &d) != kSuccess || n_.memory(d, &m) != kSuccess) continue;
      char name[96] = {};
      n_.name(d, name, sizeof name);
      out.push_back(GpuDevice{i, name, m.used, m.total, false});
    }
    return out;
  }

  std::optional<uint64_t> process_memory(const std::vector<pid_t>& pids) override {
    unsigned n = 0;
    if (n_.count(&n) != kSuccess) return std::nullopt;
    uint64_t sum = 0;
    for (unsigned i = 0; i < n && i < 64; ++i) {
      nvmlDevice d = nullptr;
      if (n_.handle(i, &d) != kSuccess) continue;
      std::vector<std::pair<unsigned, uint64_t>> seen;  // a process both computing and drawing counts once
      for (auto query : {n_.compute, n_.graphics}) {
        if (query == nullptr) continue;
        for (const NvmlProcess& p : processes(query, d)) {
          if (p.used == ULLONG_MAX) continue;  // not available (e.g. under some virtualisations)
          if (std::find(pids.begin(), pids.end(), static_cast<pid_t>(p.pid)) == pids.end()) continue;
          if (std::any_of(seen.begin(), seen.end(), [&](auto& s) { return s.first == p.pid; })) continue;
          seen.emplace_back(p.pid, p.used);
          sum += p.used;
        }
      }
    }
    return sum;
  }

 private:
  static std::vector<NvmlProcess> processes(nvmlReturn (*query)(nvmlDevice, unsigned*, NvmlProcess*), nvmlDevice d) {
    unsigned count = 0;
    nvmlReturn r = query(d, &count, nullptr);
    if (r == kSuccess) return {};
    if (r != kInsufficientSize) return {};
    std::vector<NvmlProcess> procs(count + 8);  // processes may start between the two calls
    count = static_cast<unsigned>(procs.size());
    if (query(d, &count, procs.data()) != kSuccess) return {};
    procs.resize(std::min<size_t>(count, procs.size()));
    return procs;
  }

  Nvml n_;
};

// amdgpu's per-card VRAM counters, read at each call (a few small sysfs files).
class AmdSysfsProbe final : public GpuProbe {
 public:
  explicit AmdSysfsProbe(std::vector<std::string> dirs) : dirs_(std::move(dirs)) {}
  std::string name() const override { return "amdgpu"; }
  std::vector<GpuDevice> devices() override {
    std::vector<GpuDevice> out;
    for (unsigned i = 0; i < dirs_.size(); ++i) {
      uint64_t used = 0, total = 0;
      std::ifstream(dirs_[i] + "/mem_info_vram_used") >> used;
      std::ifstream(dirs_[i] + "/mem_info_vram_total") >> total;
      if (total > 0) out.push_back(GpuDevice{i, "amdgpu " + dirs_[i], used, total, false});
    }
    return out;
  }
  std::optional<uint64_t> process_memory(const std::vector<pid_t>&) override { return std::nullopt; }

  static std::vector<std::string> find() {
    std::vector<std::string> dirs;
    glob_t g{};
    if (::glob("/sys/class/drm/card*/device/mem_info_vram_total", 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        std::string p = g.gl_pathv[i];
        dirs.push_back(p.substr(0, p.rfind('/')));
      }
    }
    ::globfree(&g);
    return dirs;
  }

 private:
  std::vector<std::string> dirs_;
};

}  // namespace

std::unique_ptr<GpuProbe> make_gpu_probe() {
  Nvml n;
  const std::string why = n.load();
  if (!why.empty()) {
    if (n.lib != nullptr) ::dlclose(n.lib);
    if (auto amd = AmdSysfsProbe::find(); !amd.empty()) {
      spdlog::info("GPU memory: {} AMD card(s) through sysfs (per device; no per-process figures)", amd.size());
      return std::make_unique<AmdSysfsProbe>(std::move(amd));
    }
    spdlog::info("GPU memory: off ({}); admission and ceilings count system memory only", why);
    return make_null_gpu_probe();
  }
  auto probe = std::make_unique<NvmlProbe>(n);
  const auto devices = probe->devices();
  if (devices.empty()) {
    spdlog::info("GPU memory: off (NVML sees no device)");
    return make_null_gpu_probe();
  }
  for (const GpuDevice& d : devices)
    spdlog::info("GPU memory: NVML device {} {}: {} MiB used of {} MiB", d.index, d.name, d.used >> 20, d.total >> 20);
  return probe;
}

}  // namespace llmux
