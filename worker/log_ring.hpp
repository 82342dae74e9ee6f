// A bounded ring of recent lines (engine output), kept for error messages and /logs. Single-threaded.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

class LogRing {
 public:
  explicit LogRing(size_t capacity = 200) : capacity_(capacity) {}
  void push(std::string line) {
    if (lines_.size() == capacity_) lines_.pop_front();
    lines_.push_back(std::move(line));
  }
  std::vector<std::string> tail(size_t n) const {
    n = std::min(n, lines_.size());
    return {lines_.end() - static_cast<std::ptrdiff_t>(n), lines_.end()};
  }
  void clear() { lines_.clear(); }
  std::string_view last() const { return lines_.empty() ? std::string_view() : std::string_view(lines_.back()); }
  std::string_view last_with(std::string_view text) const {  // the newest line containing `text`, or ""
    for (auto it = lines_.rbegin(); it != lines_.rend(); ++it)
      if (it->find(text) != std::string::npos) return *it;
    return {};
  }

 private:
  size_t capacity_;
  std::deque<std::string> lines_;
};

}  // namespace llmux
