// Beast on top of common/net.hpp. Include only from the few translation units that speak HTTP (compile cost).
#pragma once

#include "common/net.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace llmux {
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Client connections live on the io_context's own executor type: their operations skip the type-erased executor's
// work tracking (the daemon has one io_context, run by one thread).
using ClientStream = beast::basic_stream<tcp, net::io_context::executor_type>;
using ClientSocket = ClientStream::socket_type;

}  // namespace llmux
