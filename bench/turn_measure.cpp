#include "bench/turn_measure.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"

namespace llmux::bench {

namespace {

bool carries_text(const nlohmann::json& j) {
  const auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty()) return false;
  const auto& c = (*choices)[0];
  if (const auto d = c.find("delta"); d != c.end() && d->is_object()) {
    for (const char* k : {"content", "reasoning_content", "reasoning"})
      if (const auto v = d->find(k); v != d->end() && v->is_string() && !v->get_ref<const std::string&>().empty())
        return true;
    return d->contains("tool_calls");
  }
  const auto t = c.find("text");
  return t != c.end() && t->is_string() && !t->get_ref<const std::string&>().empty();
}

void read_counts(const nlohmann::json& j, Turn& t) {
  if (const auto u = j.find("usage"); u != j.end() && u->is_object()) {
    t.prompt = u->value("prompt_tokens", t.prompt);
    t.completion = u->value("completion_tokens", t.completion);
    if (const auto d = u->find("prompt_tokens_details"); d != u->end() && d->is_object())
      t.cached = d->value("cached_tokens", t.cached);
  }
  if (const auto tm = j.find("timings"); tm != j.end() && tm->is_object() && t.cached < 0)
    t.cached = tm->value("cache_n", t.cached);
}

}  // namespace

Turn measure_turn(uint16_t port, const std::string& target, const std::string& body) {
  Turn t;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point first{}, last{};
  int64_t text_events = 0, reported = -1;
  auto r = test::http_stream(port, "POST", target, body, [&](const test::SseEvent& e) {
    if (e.data.empty() || e.data == "[DONE]" || e.data[0] == ':') return true;
    const auto j = nlohmann::json::parse(e.data, nullptr, false);
    if (!j.is_object()) return true;
    if (carries_text(j)) {
      if (text_events++ == 0) first = e.at;
      last = e.at;
    }
    Turn counts;
    read_counts(j, counts);
    if (counts.prompt >= 0) t.prompt = counts.prompt;
    if (counts.cached >= 0) t.cached = counts.cached;
    if (counts.completion > 0) reported = counts.completion;
    return true;
  }, std::chrono::minutes(30));
  t.status = r.status;
  t.completion = reported > 0 ? reported : text_events;
  if (text_events > 0) t.ttft_ms = std::chrono::duration<double, std::milli>(first - start).count();
  const double decode_s = std::chrono::duration<double>(last - first).count();
  if (text_events > 1 && decode_s > 0) t.decode_tps = static_cast<double>(t.completion - 1) / decode_s;
  return t;
}

}  // namespace llmux::bench
