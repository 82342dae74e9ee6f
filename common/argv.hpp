// Word splitting of a `cmd` string the way a POSIX shell splits words: blanks separate words; single quotes keep
// everything literal; double quotes keep blanks and allow \" \\ \$ \` escapes; a backslash outside quotes escapes
// the next character; backslash-newline is a line continuation; `#` at the start of a word starts a comment that
// runs to the end of the line (multi-line YAML `cmd: |` blocks often carry comments). No globbing; the one expansion
// is the home directory's, as a shell does it: an unquoted `~` or `$HOME` that starts a word and is followed by `/`
// or ends the word becomes `home` (when `home` is not empty).
// Throws std::invalid_argument("unterminated single quote" / "unterminated double quote" / "trailing backslash").
#pragma once

#include <string>
#include <vector>

namespace llmux {

std::vector<std::string> split_command(const std::string& cmd, const std::string& home = "");

// `cmd` without the comments split_command would skip (line breaks kept), everything else byte for byte. The
// config loader strips comments before expanding macros: a macro named in a comment is neither expanded nor
// required, and a multi-line macro value cannot end a comment early. Throws as split_command.
std::string strip_comments(const std::string& cmd);

}  // namespace llmux
