// The path of the running executable (the `llmux bridge` of a remote model is llmux itself). Platform parts:
// self_exe_{linux,macos}.cpp. Returns "llmux" (found on PATH) when the system cannot say.
#pragma once

#include <string>

namespace llmux {

std::string self_executable();

}  // namespace llmux
