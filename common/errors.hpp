// OpenAI-shaped error bodies: {"error":{"message":..,"type":..,"code":..}}. Every error llmux itself produces
// for an HTTP client goes through here, so clients see one shape and a message that says what to do.
#pragma once

#include <string>

namespace llmux {

struct ApiError {
  int status = 500;            // HTTP status
  std::string type;            // e.g. "invalid_request_error", "server_error"
  std::string code;            // short machine code, e.g. "model_not_found"
  std::string message;         // human sentence
  int retry_after = 0;         // seconds; > 0 adds a Retry-After header (429, 503)
};

std::string error_body(const ApiError& e);

ApiError bad_request(std::string message, std::string code = "invalid_request");
ApiError not_found(std::string message, std::string code = "not_found");
ApiError server_error(int status, std::string message, std::string code);

}  // namespace llmux
