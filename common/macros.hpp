// Macro expansion for config strings: ${NAME} is replaced by macros[NAME]; ${env.NAME} by the environment
// variable NAME. Names in `keep` (e.g. PORT, PID) are left untouched for later expansion at spawn time.
// A macro value may itself use other macros (expanded recursively, depth bounded at 8: deeper is an error).
// Throws std::invalid_argument with a precise reason: "unknown macro ${x}", "environment variable FOO is not
// set", "unterminated ${", "macro recursion too deep at ${x}".
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

// Whether a value substituted from the environment variable `name` is a secret (never printed): every variable but
// a few that only locate things (HOME, USER, LOGNAME, PWD, TMPDIR, PATH, SHELL, XDG_*), which paths in a config are
// commonly built from and which would otherwise be redacted from every path llmux logs.
bool env_value_is_secret(std::string_view name);
// `env`, also appending to `secrets` each value it finds for a variable env_value_is_secret() names (no repeats),
// unless the value is an absolute path that exists (an engine binary or a model directory, such as the demo's
// ${env.LLMUX_FAKE_ENGINE}: a key is never a file on disk, and a redacted path makes logs unreadable).
// `secrets` must outlive the returned lookup.
EnvLookup recording_env(EnvLookup env, std::vector<std::string>& secrets);

std::string expand_macros(const std::string& text, const std::map<std::string, std::string>& macros,
                          const std::set<std::string>& keep, const EnvLookup& env = process_env());

// Replaces every ${NAME} for the given pairs, leaving anything else as is (spawn-time substitution).
std::string substitute(std::string text, const std::map<std::string, std::string>& values);

}  // namespace llmux
