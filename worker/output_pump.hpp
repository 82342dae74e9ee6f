// Reads a child's stdout+stderr pipe on the io_context and hands out complete lines (CR/LF stripped, lines longer
// than 4 KiB split). Ends at EOF or when the descriptor errors; stop() closes it. Owns the descriptor.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "common/net.hpp"

namespace llmux {

class OutputPump : public std::enable_shared_from_this<OutputPump> {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  static std::shared_ptr<OutputPump> start(net::io_context& io, int fd, LineHandler on_line,
                                           std::function<void()> on_eof);
  bool at_eof() const { return eof_; }
  void stop();

 private:
  OutputPump(net::io_context& io, int fd, LineHandler on_line, std::function<void()> on_eof);
  void read();
  void consume(size_t n);
  void flush_partial();

  net::posix::stream_descriptor pipe_;
  LineHandler on_line_;
  std::function<void()> on_eof_;
  bool eof_ = false;
  std::array<char, 4096> buf_{};
  std::string partial_;
};

}  // namespace llmux
