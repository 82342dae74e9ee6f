// macOS: Apple Silicon GPUs share system memory, and Metal may wire at most iogpu.wired_limit_mb of it (0 or
// absent: the default, about 2/3 of RAM up to 36 GiB and 3/4 above). That limit is reported as one unified device
// whose `used` is the system's wired memory now (macOS does not split wired memory by GPU, so this overstates
// what Metal holds): a Metal engine fits only below the limit. A process's GPU memory is inside its
// phys_footprint already (common/sysmem_macos.cpp), so process_memory reports nothing separately.
#include <mach/mach.h>
#include <sys/sysctl.h>

#include <spdlog/spdlog.h>

#include "worker/gpu.hpp"

namespace llmux {

namespace {

template <class T>
bool sysctl_value(const char* name, T& out) {
  size_t size = sizeof out;
  return ::sysctlbyname(name, &out, &size, nullptr, 0) == 0 && size == sizeof out;
}

uint64_t wired_bytes() {
  vm_statistics64_data_t vm{};
  mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
  if (::host_statistics64(::mach_host_self(), HOST_VM_INFO64, reinterpret_cast<host_info64_t>(&vm), &count) !=
      KERN_SUCCESS)
    return 0;
  vm_size_t page = 0;
  ::host_page_size(::mach_host_self(), &page);
  return static_cast<uint64_t>(vm.wire_count) * page;
}

class MetalProbe final : public GpuProbe {
 public:
  explicit MetalProbe(uint64_t limit) : limit_(limit) {}
  std::string name() const override { return "metal"; }
  std::vector<GpuDevice> devices() override {
    return {GpuDevice{0, "Metal (wired-memory limit)", wired_bytes(), limit_, true}};
  }
  std::optional<uint64_t> process_memory(const std::vector<pid_t>&) override { return std::nullopt; }

 private:
  uint64_t limit_;
};

}  // namespace

std::unique_ptr<GpuProbe> make_gpu_probe() {
  uint64_t ram = 0;
  if (!sysctl_value("hw.memsize", ram) || ram == 0) return make_null_gpu_probe();
  uint32_t limit_mb = 0;  // iogpu.wired_limit_mb: 0 = the system default
  sysctl_value("iogpu.wired_limit_mb", limit_mb);
  const uint64_t limit = limit_mb != 0 ? uint64_t{limit_mb} << 20
                                       : (ram > (36ull << 30) ? ram / 4 * 3 : ram / 3 * 2);
  spdlog::info("GPU memory: Metal may wire {} MiB of {} MiB{}", limit >> 20, ram >> 20,
               limit_mb != 0 ? " (iogpu.wired_limit_mb)" : " (the default share)");
  return std::make_unique<MetalProbe>(limit);
}

}  // namespace llmux
