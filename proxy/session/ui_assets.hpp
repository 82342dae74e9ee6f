// The dashboard's files (proxy/session/ui/), embedded in the binary at build time by cmake/embed_ui.cmake: GET /ui
// is index.html, /ui/app.js and /ui/style.css the rest. No file is read at run time and nothing is fetched from
// elsewhere. Pure lookup, never throws.
#pragma once

#include <string_view>

namespace llmux {

struct UiAsset {
  std::string_view path;          // "/ui", "/ui/app.js", "/ui/style.css"
  std::string_view body;
  std::string_view content_type;
};

// The asset at a normalized path ("/ui", "/ui/index.html", "/ui/app.js", ...); nullptr when there is none.
const UiAsset* find_ui_asset(std::string_view path);

// Header lines (each ending in CRLF) for every /ui response: the page runs only its own script and style, talks
// only to llmux, and cannot be framed by another page.
inline constexpr std::string_view kUiHeaderFields =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
    "Cache-Control: no-cache\r\n";

}  // namespace llmux
