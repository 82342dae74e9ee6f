#include "common/log_hub.hpp"

#include <algorithm>

namespace llmux {

LogHub::LogHub(size_t max_lines, size_t max_bytes) : max_lines_(max_lines), max_bytes_(max_bytes) {}

void LogHub::split_model(std::string_view message, std::string& model, std::string& text) {
  model.clear();
  if (message.size() > 2 && message.front() == '[') {
    auto close = message.find(']');
    if (close != std::string_view::npos && close < 128) {
      std::string_view tag = message.substr(1, close - 1);
      model.assign(tag.substr(0, tag.find(' ')));
      message.remove_prefix(close + 1);
      if (!message.empty() && message.front() == ' ') message.remove_prefix(1);
    }
  }
  text.assign(message);
}

void LogHub::append(std::string_view source, std::string_view level, std::string_view message,
                    std::chrono::system_clock::time_point time) {
  LogLine line;
  line.time = time;
  line.source.assign(source);
  line.level.assign(level);
  split_model(message, line.model, line.text);
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard lock(mu_);
    line.seq = next_seq_++;
    for (auto& [id, s] : subs_) {
      if (!s.filter.matches(line)) continue;
      if (s.queue.size() >= s.max_queued) {
        s.queue.pop_front();
        ++s.dropped;
      }
      s.queue.push_back(line);
      if (s.queue.size() == 1 && s.wake) wakes.push_back(s.wake);  // woken once per batch
    }
    bytes_ += line.text.size() + line.model.size();
    ring_.push_back(std::move(line));
    while (!ring_.empty() && (ring_.size() > max_lines_ || bytes_ > max_bytes_)) {
      bytes_ -= ring_.front().text.size() + ring_.front().model.size();
      ring_.pop_front();
    }
  }
  for (auto& w : wakes) w();
}

std::vector<LogLine> LogHub::recent(const LogFilter& f, size_t limit) const {
  std::vector<LogLine> out;
  std::lock_guard lock(mu_);
  for (auto it = ring_.rbegin(); it != ring_.rend() && out.size() < limit; ++it)
    if (f.matches(*it)) out.push_back(*it);
  std::reverse(out.begin(), out.end());
  return out;
}

LogHub::SubscriberId LogHub::subscribe(LogFilter f, std::function<void()> wake, size_t max_queued) {
  std::lock_guard lock(mu_);
  SubscriberId id = next_sub_++;
  subs_.emplace(id, Subscriber{std::move(f), std::move(wake), std::max<size_t>(1, max_queued), {}, 0});
  return id;
}

void LogHub::unsubscribe(SubscriberId id) {
  std::lock_guard lock(mu_);
  subs_.erase(id);
}

uint64_t LogHub::take(SubscriberId id, std::vector<LogLine>& out) {
  std::lock_guard lock(mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return 0;
  for (auto& l : it->second.queue) out.push_back(std::move(l));
  it->second.queue.clear();
  return std::exchange(it->second.dropped, 0);
}

void LogHubSink::sink_it_(const spdlog::details::log_msg& msg) {
  auto level = spdlog::level::to_string_view(msg.level);
  hub_->append(source_, std::string_view(level.data(), level.size()),
               std::string_view(msg.payload.data(), msg.payload.size()), msg.time);
}

}  // namespace llmux
