// The `model` field of a multipart/form-data request body (RFC 7578), found by an incremental scanner: bytes are
// fed in pieces of any size, nothing but the current part's header block (at most kMaxHeaderBlock) and the field's
// value (at most kMaxValue) is kept, and the scan stops as soon as the field has been read. Malformed or oversized
// input ends in State::bad with a reason, never an exception. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux {

// The boundary parameter of a multipart/form-data Content-Type (quotes removed); nullopt when the type is not
// multipart/form-data or the boundary is missing or invalid (1 to 70 characters).
std::optional<std::string> multipart_boundary(std::string_view content_type);

class MultipartModelScan {
 public:
  static constexpr size_t kMaxHeaderBlock = 16 * 1024;
  static constexpr size_t kMaxValue = 1024;
  enum class State { scanning, found, absent, bad };

  explicit MultipartModelScan(std::string boundary);
  // Scans the next bytes of the body; returns the state after them (found / absent / bad are final: later calls
  // change nothing).
  State feed(std::string_view bytes);
  // The body ended: a scan still running is bad (the closing delimiter never came).
  State finish();
  State state() const { return state_; }
  const std::string& value() const { return value_; }  // found: the field's value
  uint64_t value_begin() const { return value_begin_; }  // found: where the value sits in the body
  uint64_t value_end() const { return value_end_; }
  const char* why() const { return why_; }             // bad: what was wrong

 private:
  enum class Phase { preamble, after_delimiter, padding, headers, content };
  void step(char c);
  void delimiter_done();
  void header_line();
  void fail(const char* why);
  void content_byte(char c);

  std::string delimiter_;  // "\r\n--" + boundary
  State state_ = State::scanning;
  Phase phase_ = Phase::preamble;
  size_t matched_ = 2;     // delimiter bytes matched so far (the body may start with "--boundary")
  uint64_t offset_ = 0;    // bytes of the body seen
  std::string line_;       // the header line being read
  size_t header_bytes_ = 0;
  char first_after_ = 0;   // after a delimiter: its first byte ('-' of "--", or padding / CR)
  bool model_part_ = false;
  bool seen_model_ = false;
  std::string value_;
  uint64_t value_begin_ = 0, value_end_ = 0;
  const char* why_ = "";
};

}  // namespace llmux
