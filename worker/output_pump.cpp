#include "worker/output_pump.hpp"

#include <algorithm>

namespace llmux {

namespace {
constexpr size_t kMaxLine = 4096;
}

OutputPump::OutputPump(net::io_context& io, int fd, LineHandler on_line, std::function<void()> on_eof)
    : pipe_(io, fd), on_line_(std::move(on_line)), on_eof_(std::move(on_eof)) {}

std::shared_ptr<OutputPump> OutputPump::start(net::io_context& io, int fd, LineHandler on_line,
                                              std::function<void()> on_eof) {
  std::shared_ptr<OutputPump> p(new OutputPump(io, fd, std::move(on_line), std::move(on_eof)));
  p->read();
  return p;
}

void OutputPump::stop() {
  error_code ignored;
  pipe_.close(ignored);
}

void OutputPump::read() {
  pipe_.async_read_some(net::buffer(buf_), [self = shared_from_this()](const error_code& ec, size_t n) {
    if (n > 0) self->consume(n);
    if (ec) {
      self->flush_partial();
      error_code ignored;
      self->pipe_.close(ignored);
      self->eof_ = true;
      if (self->on_eof_ && ec != net::error::operation_aborted) self->on_eof_();
      return;
    }
    self->read();
  });
}

// Lines end at '\n' or at kMaxLine bytes, whatever size the reads come in (a long line read in one piece used to
// pass whole: the sanitizer build's slower reads showed it).
void OutputPump::consume(size_t n) {
  std::string_view data(buf_.data(), n);
  while (!data.empty()) {
    const size_t room = kMaxLine - partial_.size();  // partial_ is shorter than kMaxLine here
    const auto nl = data.substr(0, room).find('\n');
    if (nl != std::string_view::npos) {
      partial_.append(data.substr(0, nl));
      data.remove_prefix(nl + 1);
      flush_partial();
      continue;
    }
    const size_t take = std::min(room, data.size());
    partial_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (partial_.size() >= kMaxLine) flush_partial();
  }
}

void OutputPump::flush_partial() {
  while (!partial_.empty() && (partial_.back() == '\r' || partial_.back() == '\n')) partial_.pop_back();
  if (!partial_.empty()) on_line_(partial_);
  partial_.clear();
}

}  // namespace llmux
