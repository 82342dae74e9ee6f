// The platform-independent part of worker/gpu.hpp: the probe that reports nothing, and the free-memory helper.
#include "worker/gpu.hpp"

namespace llmux {

namespace {

class NullProbe final : public GpuProbe {
 public:
  std::string name() const override { return "none"; }
  std::vector<GpuDevice> devices() override { return {}; }
  std::optional<uint64_t> process_memory(const std::vector<pid_t>&) override { return std::nullopt; }
};

}  // namespace

std::unique_ptr<GpuProbe> make_null_gpu_probe() { return std::make_unique<NullProbe>(); }

std::optional<GpuFree> discrete_gpu_free(GpuProbe& probe) {
  for (const GpuDevice& d : probe.devices()) {
    if (d.unified || d.total == 0) continue;
    return GpuFree{d.total > d.used ? d.total - d.used : 0, d.total};
  }
  return std::nullopt;
}

}  // namespace llmux
