#include "common/errors.hpp"

#include <nlohmann/json.hpp>

namespace llmux {

std::string error_body(const ApiError& e) {
  nlohmann::json j = {{"error", {{"message", e.message}, {"type", e.type}, {"code", e.code}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError bad_request(std::string message, std::string code) {
  return {400, "invalid_request_error", std::move(code), std::move(message)};
}

ApiError not_found(std::string message, std::string code) {
  return {404, "invalid_request_error", std::move(code), std::move(message)};
}

ApiError server_error(int status, std::string message, std::string code) {
  return {status, "server_error", std::move(code), std::move(message)};
}

}  // namespace llmux
