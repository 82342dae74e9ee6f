#include <csignal>

#include "proxy/cli.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // pipes to engines do not use MSG_NOSIGNAL
  return llmux::run_cli(argc, argv);
}
