#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

int main(int argc, char** argv) {
  // Tests write to connections the server may close on purpose: a write there
  // must fail as a value the test checks, not kill the test binary with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  return doctest::Context(argc, argv).run();
}
