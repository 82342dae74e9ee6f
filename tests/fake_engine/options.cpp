#include "tests/fake_engine/options.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace fake {

void log_line(std::string_view text) {
  std::string line = "fake_engine: ";
  line.append(text).push_back('\n');
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(2, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

namespace {

constexpr std::string_view kUsage =
    "usage: fake_engine --port N [--host H] [--model NAME] [--load-delay-ms N] [--readiness 503|refuse|always200]\n"
    "       [--token-ms N] [--tokens N] [--memory-mb N] [--crash-after-tokens N] [--exit-at-start CODE]\n"
    "       [--ignore-sigterm] [--name-check NAME] [--quiet] [--squat-port-once MARKER_FILE] [--cached-tokens N]\n"
    "       [--interim] [--close-delimited] [--close-after N] [--pad-header BYTES]\n"
    "       [--slots N] [--prefill-us-per-token N] [--done-gap-ms N]\n"
    "       [--grow-mb N --grow-after-ms MS] [--skim]\n";

[[noreturn]] void usage_error(const std::string& message) {
  log_line("error: " + message);
  std::fputs(kUsage.data(), stderr);
  std::exit(2);
}

std::int64_t parse_number(const std::string& flag, const std::string& text, std::int64_t max) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0 || v > max)
    usage_error(flag + ": expected an integer in [0, " + std::to_string(max) + "], got '" + text + "'");
  return v;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    constexpr std::int64_t big = std::int64_t{1} << 40;
    if (flag == "--help" || flag == "-h") { std::fputs(kUsage.data(), stdout); std::exit(0); }
    else if (flag == "--port") o.port = static_cast<std::uint16_t>(parse_number(flag, value(), 65535));
    else if (flag == "--host") o.host = value();
    else if (flag == "--model") o.model = value();
    else if (flag == "--load-delay-ms") o.load_delay_ms = parse_number(flag, value(), big);
    else if (flag == "--token-ms") o.token_ms = parse_number(flag, value(), big);
    else if (flag == "--tokens") o.tokens = parse_number(flag, value(), kMaxTokens);
    else if (flag == "--memory-mb") o.memory_mb = parse_number(flag, value(), big);
    else if (flag == "--grow-mb") o.grow_mb = parse_number(flag, value(), big);
    else if (flag == "--grow-after-ms") o.grow_after_ms = parse_number(flag, value(), big);
    else if (flag == "--crash-after-tokens") o.crash_after_tokens = parse_number(flag, value(), big);
    else if (flag == "--exit-at-start") o.exit_at_start = static_cast<int>(parse_number(flag, value(), 255));
    else if (flag == "--name-check") o.name_check = value();
    else if (flag == "--squat-port-once") o.squat_port_once = value();
    else if (flag == "--cached-tokens") o.cached_tokens = parse_number(flag, value(), big);
    else if (flag == "--close-after") o.close_after = parse_number(flag, value(), big);
    else if (flag == "--slots") o.slots = parse_number(flag, value(), 64);
    else if (flag == "--prefill-us-per-token") o.prefill_us = parse_number(flag, value(), 1000000);
    else if (flag == "--done-gap-ms") o.done_gap_ms = parse_number(flag, value(), 60000);
    else if (flag == "--pad-header") o.pad_header = parse_number(flag, value(), 1 << 20);
    else if (flag == "--ignore-sigterm" && !inline_value) o.ignore_sigterm = true;
    else if (flag == "--quiet" && !inline_value) o.quiet = true;
    else if (flag == "--skim" && !inline_value) o.skim = true;
    else if (flag == "--interim" && !inline_value) o.interim = true;
    else if (flag == "--close-delimited" && !inline_value) o.close_delimited = true;
    else if (flag == "--readiness") {
      const std::string v = value();
      if (v == "503") o.readiness = Readiness::http503;
      else if (v == "refuse") o.readiness = Readiness::refuse;
      else if (v == "always200") o.readiness = Readiness::always200;
      else usage_error("--readiness: expected 503, refuse or always200, got '" + v + "'");
    } else usage_error("unknown flag '" + std::string(argv[i]) + "'");
  }
  if (const char* env = std::getenv("PORT"); !o.port && env != nullptr)  // as servers that read PORT do
    o.port = static_cast<std::uint16_t>(parse_number("PORT", env, 65535));
  if (!o.port) usage_error("--port is required");
  return o;
}

}  // namespace fake
