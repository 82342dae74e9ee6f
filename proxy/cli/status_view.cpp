#include "proxy/cli/status_view.hpp"

#include <algorithm>
#include <cstdio>

#include "common/footprint.hpp"
#include "proxy/cli/cli_json.hpp"

namespace llmux {

using nlohmann::json;

namespace {

std::string bytes_or_dash(const json& v) { return v.is_number() ? format_bytes(v.get<uint64_t>()) : "-"; }

std::string text_or(const json& v, const char* fallback) { return v.is_string() ? v.get<std::string>() : fallback; }

std::string number_or_dash(const json& v) { return v.is_number() ? std::to_string(v.get<int64_t>()) : "-"; }

std::string seconds_or(const json& v, const char* fallback) {
  return v.is_number() ? duration_text(v.get<double>()) : fallback;
}

// The residents: `workers`, or an older daemon's `worker`.
json residents_of(const json& status) {
  if (opt(status, "workers").is_array()) return opt(status, "workers");
  if (opt(status, "worker").is_object()) return json::array({opt(status, "worker")});
  return json::array();
}

std::vector<std::string> resident_row(const json& w) {
  const json& mem = opt(w, "memory");
  const bool busy = opt(w, "inFlight").is_number() && opt(w, "inFlight").get<int64_t>() > 0;
  std::string unloads = opt(w, "pinned") == true ? "pinned" : "-";
  if (unloads == "-" && opt(w, "ttlRemainingSeconds").is_number())
    unloads = "in " + duration_text(opt(w, "ttlRemainingSeconds").get<double>());
  return {text_or(opt(w, "model"), "?"),
          text_or(opt(w, "state"), "?"),
          number_or_dash(opt(w, "pid")),
          number_or_dash(opt(w, "port")),
          number_or_dash(opt(w, "inFlight")),
          number_or_dash(opt(w, "queued")),
          bytes_or_dash(opt(mem, "rssBytes")),
          bytes_or_dash(opt(mem, "estimateBytes")),
          bytes_or_dash(opt(mem, "ceilingBytes")),
          seconds_or(opt(w, "loadSeconds"), "-"),
          seconds_or(opt(w, "idleSeconds"), busy ? "busy" : "-"),
          unloads};
}

// "resident   2 (at most 3): 768.0 MiB measured, 3.0 GiB estimated", then the table and each resident's note;
// "resident   none (at most 1)".
std::string residents_text(const json& status) {
  const json residents = residents_of(status);
  const json& sys = opt(status, "system");
  std::string out = "resident   " + (residents.empty() ? std::string("none") : std::to_string(residents.size()));
  const json& max = opt(sys, "maxResident");
  if (max.is_number()) out += max.get<int64_t>() == 0 ? " (bounded by memory)" : " (at most " + number_or_dash(max) + ")";
  if (residents.empty()) return out + "\n";
  const json& total = opt(sys, "residentMemory");
  if (total.is_object())
    out += ": " + bytes_or_dash(opt(total, "rssBytes")) + " measured, " + bytes_or_dash(opt(total, "estimateBytes")) +
           " estimated";
  out += "\n";
  std::vector<std::vector<std::string>> rows = {{"MODEL", "STATE", "PID", "PORT", "IN-FLIGHT", "QUEUED", "RSS",
                                                 "ESTIMATE", "CEILING", "LOADED IN", "IDLE", "UNLOADS"}};
  for (const json& w : residents) rows.push_back(resident_row(w));
  out += table_text(rows, "  ");
  for (const json& w : residents) {  // what a starting engine last said; a remote model's last failure
    const std::string model = text_or(opt(w, "model"), "?");
    if (opt(w, "lastLine").is_string()) out += "  " + model + ": " + opt(w, "lastLine").get<std::string>() + "\n";
    if (opt(w, "remoteError").is_string())
      out += "  " + model + ": " + opt(w, "remoteError").get<std::string>() + "\n";
  }
  return out;
}

std::string history_text(const json& status) {
  std::string out = "queue      " + number_or_dash(opt(opt(status, "queue"), "length")) + " waiting\n";
  out += "loads      " + number_or_dash(opt(status, "swaps"));
  if (opt(status, "lastLoadSeconds").is_number())
    out += ", last took " + duration_text(opt(status, "lastLoadSeconds").get<double>());
  if (opt(status, "lastSwapSeconds").is_number())
    out += "; last swap " + duration_text(opt(status, "lastSwapSeconds").get<double>());
  if (opt(status, "lastStopReason").is_string())
    out += "; last unload: " + opt(status, "lastStopReason").get<std::string>();
  return out + "\n";
}

}  // namespace

std::string duration_text(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

std::string table_text(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

std::string status_text(const json& status, const std::string& url) {
  std::string out = "llmux " + text_or(opt(status, "version"), "?") + " at " + url + ", up " +
                    seconds_or(opt(status, "uptimeSeconds"), "?") + "\n";
  out += residents_text(status);
  out += history_text(status);
  const json& sys = opt(status, "system");
  out += "system     " + bytes_or_dash(opt(sys, "availableBytes")) + " available of " +
         bytes_or_dash(opt(sys, "totalBytes")) + ", pressure " + text_or(opt(sys, "pressure"), "?") + "\n";
  const json& cfg = opt(status, "config");
  out += "config     " + text_or(opt(cfg, "path"), "?") + " (" + number_or_dash(opt(cfg, "reloads")) + " reloads)\n";
  if (opt(cfg, "error").is_object())
    out += "           REFUSED EDIT: " + text_or(opt(opt(cfg, "error"), "message"), "?") + "\n";
  return out;
}

std::string models_text(const json& models) {
  std::vector<std::vector<std::string>> rows = {{"", "MODEL", "STATE", "ESTIMATE", "SOURCE", "FITS", "ALIASES"}};
  bool any_resident = false;
  for (const json& e : opt(models, "data")) {
    if (e.contains("alias_of")) continue;
    std::string aliases;
    for (const json& a : opt(e, "aliases"))
      if (a.is_string()) aliases += (aliases.empty() ? "" : ", ") + a.get<std::string>();
    const json& fp = opt(e, "footprint");
    const std::string state = text_or(opt(e, "state"), "?");
    const bool resident = state != "stopped" && state != "?";
    any_resident = any_resident || resident;
    rows.push_back({resident ? "*" : "", text_or(opt(e, "id"), "?"), state, text_or(opt(fp, "estimate"), "-"),
                    text_or(opt(fp, "source"), "-"), opt(fp, "fitsBudget") == false ? "NO" : "yes", aliases});
  }
  std::string out = table_text(rows, "");
  if (any_resident) out += "* resident\n";
  return out;
}

}  // namespace llmux
