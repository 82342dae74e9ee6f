// The one header that pulls in Asio. Boost 1.74's awaitable.hpp uses std::exchange without <utility>, so
// <utility> comes first. Beast users include common/http.hpp instead.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace llmux {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
}  // namespace llmux
