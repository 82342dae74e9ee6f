// Admin and discovery responses (/status, /v1/models, /running): JSON built from the coordinator's state. Pure
// with respect to I/O: no sockets, called on the io_context thread.
#pragma once

#include <chrono>
#include <string>

#include "proxy/coordinator.hpp"

namespace llmux {

struct DaemonInfo {
  std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  std::chrono::system_clock::time_point config_loaded_at = std::chrono::system_clock::now();
  std::string listen;  // "127.0.0.1:8484" once bound
};

std::string status_json(const Coordinator& c, const DaemonInfo& d);
std::string models_json(const Coordinator& c);
std::string running_json(const Coordinator& c);
std::string iso8601(std::chrono::system_clock::time_point t);

}  // namespace llmux
