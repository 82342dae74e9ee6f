#include "worker/pressure.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/sysmem.hpp"

namespace llmux {

// Platform hooks (pressure_linux.cpp / pressure_macos.cpp).
int platform_pressure_trigger_fd();  // a descriptor that becomes readable-priority on pressure, or -1
bool platform_pressure_dispatch(net::io_context& io, std::function<void(Pressure)> on_level);

struct PressureMonitor::Impl : std::enable_shared_from_this<PressureMonitor::Impl> {
  Impl(net::io_context& io, Handler h) : io(io), on_change(std::move(h)), timer(io) {}
  net::io_context& io;
  Handler on_change;
  MemoryConfig cfg;
  Pressure current = Pressure::normal;
  Pressure dispatched = Pressure::normal;  // last level the macOS source reported
  bool active = false, polling = false;
  net::steady_timer timer;
  std::unique_ptr<net::posix::stream_descriptor> trigger;
  std::string file;
  const char* source = "poll";
  std::chrono::steady_clock::time_point sampled_at{};

  Pressure evaluate();
  void sample();
  void poll_later(Duration d);
  bool keep_polling() const;
  void wait_trigger();
};

Pressure PressureMonitor::Impl::evaluate() {
  if (!file.empty()) {
    std::ifstream in(file);
    std::string word;
    in >> word;
    return word == "critical" ? Pressure::critical : word == "warning" ? Pressure::warning : Pressure::normal;
  }
  if (std::string_view(source) == "dispatch") return dispatched;
  Pressure level = Pressure::normal;
  if (auto psi = read_memory_psi()) {
    if (psi->some_avg10 >= cfg.pressure.psi_critical) level = Pressure::critical;
    else if (psi->some_avg10 >= cfg.pressure.psi_warning) level = Pressure::warning;
  }
  if (auto mem = read_system_memory()) {
    uint64_t reserve = cfg.reserve.resolve(mem->total);
    if (mem->available < reserve / 2) level = Pressure::critical;
    else if (mem->available < reserve && level == Pressure::normal) level = Pressure::warning;
  }
  return level;
}

void PressureMonitor::Impl::sample() {
  sampled_at = std::chrono::steady_clock::now();
  Pressure lvl = evaluate();
  if (lvl == current) return;
  spdlog::log(lvl == Pressure::normal ? spdlog::level::info : spdlog::level::warn, "memory pressure: {} -> {}",
              to_string(current), to_string(lvl));
  current = lvl;
  on_change(lvl);
}

bool PressureMonitor::Impl::keep_polling() const {
  if (!file.empty()) return true;
  if (std::string_view(source) == "poll") return active;
  return current != Pressure::normal && std::string_view(source) != "dispatch";  // watch for the way back
}

void PressureMonitor::Impl::poll_later(Duration d) {
  if (polling) return;
  polling = true;
  timer.expires_after(d);
  timer.async_wait([w = weak_from_this(), d](const error_code& ec) {
    auto self = w.lock();
    if (!self || ec) return;
    self->polling = false;
    self->sample();
    if (self->keep_polling()) self->poll_later(d);
  });
}

void PressureMonitor::Impl::wait_trigger() {
  trigger->async_wait(net::posix::stream_descriptor::wait_error, [w = weak_from_this()](const error_code& ec) {
    auto self = w.lock();
    if (!self || ec) return;
    self->sample();
    if (self->current != Pressure::normal) self->poll_later(std::chrono::seconds(1));
    self->wait_trigger();
  });
}

PressureMonitor::PressureMonitor(net::io_context& io, Handler on_change)
    : impl_(std::make_shared<Impl>(io, std::move(on_change))) {
  if (const char* f = std::getenv("LLMUX_PRESSURE_FILE"); f && *f) {
    impl_->file = f;
    impl_->source = "file";
    impl_->poll_later(std::chrono::milliseconds(100));
    return;
  }
  if (int fd = platform_pressure_trigger_fd(); fd >= 0) {
    impl_->trigger = std::make_unique<net::posix::stream_descriptor>(io, fd);
    impl_->source = "psi-trigger";
    impl_->wait_trigger();
    return;
  }
  std::weak_ptr<Impl> w = impl_;
  if (platform_pressure_dispatch(io, [w](Pressure p) {
        if (auto self = w.lock()) {
          self->dispatched = p;
          self->sample();
        }
      }))
    impl_->source = "dispatch";
}

PressureMonitor::~PressureMonitor() {
  impl_->timer.cancel();
  if (impl_->trigger) {
    error_code ec;
    impl_->trigger->close(ec);
  }
}

void PressureMonitor::configure(const MemoryConfig& m) { impl_->cfg = m; }

void PressureMonitor::set_active(bool active) {
  impl_->active = active;
  if (active && impl_->keep_polling()) impl_->poll_later(std::chrono::seconds(2));
}

Pressure PressureMonitor::level() {
  // A worker goes idle after every request and asks for the level each time: evaluating opens and parses two /proc
  // files, which cost more than relaying a small request. PSI is a 10 s average; a 100 ms old sample is as good.
  if (std::chrono::steady_clock::now() - impl_->sampled_at < std::chrono::milliseconds(100)) return impl_->current;
  impl_->sample();
  return impl_->current;
}

Pressure PressureMonitor::current() const { return impl_->current; }

const char* PressureMonitor::source() const { return impl_->source; }

}  // namespace llmux
