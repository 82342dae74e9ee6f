// Durations as seconds (a double) for logs, JSON, metrics and feedback: the one conversion every layer uses. Pure.
#pragma once

#include <chrono>

namespace llmux {

template <class Rep, class Period>
double seconds(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration<double>(d).count();
}

template <class Clock, class D1, class D2>
double seconds_between(std::chrono::time_point<Clock, D1> a, std::chrono::time_point<Clock, D2> b) {
  return seconds(b - a);
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return seconds_between(t, std::chrono::steady_clock::now());
}

}  // namespace llmux
