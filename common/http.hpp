// Beast on top of common/net.hpp. Include only from the few translation units that speak HTTP (compile cost).
#pragma once

#include "common/net.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace llmux {
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Feeds what `buffer` already holds to `parser`, without I/O, until the header (header_only) or the whole message is
// parsed or the buffer runs dry: what http::async_read_header / async_read do before reading, minus their posted
// completion (a whole small request arrives in one read). need_more is not an error: the caller reads on with the
// async call when the parser is not done. Other errors are those the async read would have reported.
template <bool isRequest>
error_code parse_buffered(beast::flat_buffer& buffer, http::basic_parser<isRequest>& parser, bool header_only) {
  error_code ec;
  while (buffer.size() > 0 && !(header_only ? parser.is_header_done() : parser.is_done())) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) return {};
    if (ec || used == 0) break;
  }
  return ec;
}
}  // namespace llmux
