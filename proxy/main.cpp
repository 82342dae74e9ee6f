#include <csignal>

#include "proxy/cli/cli.hpp"
#include "proxy/serve.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // pipes to engines do not use MSG_NOSIGNAL
  return llmux::run_cli(argc, argv, &llmux::serve_command);
}
