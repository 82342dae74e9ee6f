#include "common/argv.hpp"

#include <stdexcept>
#include <string_view>
#include <utility>

namespace llmux {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Length of a line break starting at `i` ("\n" or "\r\n"), 0 if there is none.
size_t newline_at(const std::string& s, size_t i) {
  if (i < s.size() && s[i] == '\n') return 1;
  if (i + 1 < s.size() && s[i] == '\r' && s[i + 1] == '\n') return 2;
  return 0;
}

// One pass over the command; `word_open_` is true once the current word exists, even if it is still empty
// (so '' and "" yield an empty argument, as in a shell).
class Splitter {
 public:
  explicit Splitter(const std::string& s, std::string_view home = {}) : s_(s), home_(home) {}

  std::vector<std::string> run() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (is_blank(c)) {
        finish_word();
        ++i_;
      } else if (c == '#' && !word_open_) {
        skip_comment();
      } else if (c == '\\') {
        backslash();
      } else if (c == '\'') {
        single_quoted();
      } else if (c == '"') {
        double_quoted();
      } else if (!word_open_ && !home_.empty() && home_prefix()) {
        word_.assign(home_);
        word_open_ = true;
      } else {
        append(c);
        ++i_;
      }
    }
    finish_word();
    return std::move(words_);
  }

  // [begin, end) of each comment found by run(), newline excluded.
  const std::vector<std::pair<size_t, size_t>>& comments() const { return comments_; }

 private:
  void append(char c) {
    word_.push_back(c);
    word_open_ = true;
  }

  void finish_word() {
    if (word_open_) words_.push_back(std::move(word_));
    word_.clear();
    word_open_ = false;
  }

  // An unquoted `~` or `$HOME` at the start of a word, before `/`, a blank or the end: consumed, true.
  bool home_prefix() {
    size_t n = 0;
    if (s_[i_] == '~') n = 1;
    else if (s_.compare(i_, 5, "$HOME") == 0) n = 5;
    if (n == 0) return false;
    const size_t after = i_ + n;
    if (after < s_.size() && s_[after] != '/' && !is_blank(s_[after])) return false;
    i_ = after;
    return true;
  }

  void skip_comment() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '\n') ++i_;
    comments_.emplace_back(start, i_);
  }

  // Outside quotes: "\x" is a literal x; backslash-newline joins lines without starting or ending a word.
  void backslash() {
    if (const size_t nl = newline_at(s_, i_ + 1); nl != 0) {
      i_ += 1 + nl;
      return;
    }
    if (i_ + 1 >= s_.size()) throw std::invalid_argument("trailing backslash");
    append(s_[i_ + 1]);
    i_ += 2;
  }

  void single_quoted() {
    const size_t close = s_.find('\'', i_ + 1);
    if (close == std::string::npos) throw std::invalid_argument("unterminated single quote");
    word_.append(s_, i_ + 1, close - i_ - 1);
    word_open_ = true;
    i_ = close + 1;
  }

  // Inside double quotes a backslash escapes only " \ $ ` and newline; before anything else it is literal.
  void double_quoted() {
    word_open_ = true;
    for (++i_; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        return;
      }
      if (c != '\\' || i_ + 1 >= s_.size()) {
        word_.push_back(c);
        continue;
      }
      const char next = s_[i_ + 1];
      if (const size_t nl = newline_at(s_, i_ + 1); nl != 0) {
        i_ += nl;
      } else if (next == '"' || next == '\\' || next == '$' || next == '`') {
        word_.push_back(next);
        ++i_;
      } else {
        word_.push_back(c);
      }
    }
    throw std::invalid_argument("unterminated double quote");
  }

  const std::string& s_;
  std::string_view home_;
  size_t i_ = 0;
  std::string word_;
  bool word_open_ = false;
  std::vector<std::string> words_;
  std::vector<std::pair<size_t, size_t>> comments_;
};

}  // namespace

std::vector<std::string> split_command(const std::string& cmd, const std::string& home) {
  return Splitter(cmd, home).run();
}

std::string strip_comments(const std::string& cmd) {
  Splitter splitter(cmd);
  splitter.run();
  std::string out;
  size_t from = 0;
  for (const auto& [begin, end] : splitter.comments()) {
    out.append(cmd, from, begin - from);
    from = end;
  }
  out.append(cmd, from);
  return out;
}

}  // namespace llmux
