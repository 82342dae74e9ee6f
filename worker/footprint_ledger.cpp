#include "worker/footprint_ledger.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace llmux {

namespace {

using nlohmann::json;
constexpr uint64_t kMaxFile = 4ull << 20;

std::string now_iso() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

FootprintLedger::FootprintLedger(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) return;
  path_ = dir_ + "/footprints.json";
  load();
}

std::string FootprintLedger::key(const std::string& model, const std::vector<std::string>& argv) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the words, each ended by a NUL
  for (const std::string& word : argv) {
    for (unsigned char c : word) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return model + "#" + hex;
}

void FootprintLedger::load() {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path_, ec);
  if (ec) return;  // none yet
  if (size > kMaxFile) {
    spdlog::warn("{} is over 4 MiB: learned footprints ignored", path_);
    return;
  }
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, false);
  auto models = j.is_object() ? j.find("footprints") : j.end();
  if (models == j.end() || !models->is_object()) {
    spdlog::warn("{} is unreadable: learned footprints start afresh", path_);
    return;
  }
  for (const auto& [k, v] : models->items()) {
    if (!v.is_object() || !v.contains("hostPeakBytes") || !v["hostPeakBytes"].is_number_unsigned()) continue;
    LearnedFootprint f;
    f.host_peak = v["hostPeakBytes"].get<uint64_t>();
    if (v.contains("gpuPeakBytes") && v["gpuPeakBytes"].is_number_unsigned()) f.gpu_peak = v["gpuPeakBytes"];
    if (v.contains("updated") && v["updated"].is_string()) f.updated = v["updated"];
    entries_[k] = f;
  }
}

bool FootprintLedger::save() {
  json models = json::object();
  for (const auto& [k, f] : entries_)
    models[k] = {{"hostPeakBytes", f.host_peak}, {"gpuPeakBytes", f.gpu_peak}, {"updated", f.updated}};
  const std::string text = json{{"version", 1}, {"footprints", models}}.dump(2);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  ::chmod(dir_.c_str(), 0700);
  const std::string tmp = path_ + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) ec = std::make_error_code(std::errc::io_error);
  }
  if (!ec && ::chmod(tmp.c_str(), 0600) != 0) ec = std::make_error_code(std::errc::permission_denied);
  if (ec || std::rename(tmp.c_str(), path_.c_str()) != 0) {
    std::remove(tmp.c_str());
    if (!failing_) spdlog::warn("cannot write {}: learned footprints are kept in memory only", path_);
    failing_ = true;
    return false;
  }
  failing_ = false;
  return true;
}

std::optional<LearnedFootprint> FootprintLedger::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? std::nullopt : std::optional<LearnedFootprint>(it->second);
}

bool FootprintLedger::record(const std::string& key, uint64_t host, uint64_t gpu) {
  LearnedFootprint& f = entries_[key];
  if (host <= f.host_peak && gpu <= f.gpu_peak) return false;
  f.host_peak = std::max(f.host_peak, host);
  f.gpu_peak = std::max(f.gpu_peak, gpu);
  f.updated = now_iso();
  if (!path_.empty()) save();
  return true;
}

bool FootprintLedger::forget(const std::string& key) {
  if (entries_.erase(key) == 0) return false;
  if (!path_.empty()) save();
  return true;
}

}  // namespace llmux
