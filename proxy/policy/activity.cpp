#include "proxy/policy/activity.hpp"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace llmux {

using nlohmann::json;

namespace {

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

std::string iso8601(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::optional<double> generation_rate(std::optional<int64_t> completion, std::optional<double> ttft, double total,
                                      bool streamed, double waited) {
  if (!completion || *completion <= 0 || !ttft) return std::nullopt;
  double gen = streamed ? total - *ttft : total - waited;
  if (gen <= 0.001) return std::nullopt;
  return static_cast<double>(*completion) / gen;
}

void Activity::request(Request r) {
  if (requests_.size() == kRequests) requests_.pop_front();
  requests_.push_back(std::move(r));
}

void Activity::event(Event e) {
  if (events_.size() == kEvents) events_.pop_front();
  events_.push_back(std::move(e));
}

std::string Activity::json() const {
  nlohmann::json requests = nlohmann::json::array(), events = nlohmann::json::array();
  for (const auto& r : requests_)
    requests.push_back({{"at", iso8601(r.at)}, {"model", r.model.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.model)},
                        {"status", r.status}, {"seconds", r.seconds}, {"ttft", opt(r.ttft)},
                        {"completionTokens", opt(r.completion)}, {"tokensPerSecond", opt(r.rate)}});
  for (const auto& e : events_)
    events.push_back({{"at", iso8601(e.at)}, {"kind", e.kind}, {"model", e.model},
                      {"reason", e.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.reason)},
                      {"seconds", e.seconds}});
  return nlohmann::json{{"now", iso8601(Clock::now())}, {"requests", requests}, {"events", events}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace llmux
