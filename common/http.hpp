// Beast on top of common/net.hpp. Include only from the few translation units that speak HTTP (compile cost).
#pragma once

#include "common/net.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace llmux {
namespace beast = boost::beast;
namespace http = boost::beast::http;

}  // namespace llmux
