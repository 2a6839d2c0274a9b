#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <signal.h>

int main(int argc, char** argv) {
  // A test that writes to a connection the emulator closed (a refused CONNECT, a
  // crashed server) must see the write fail, not die of SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  return doctest::Context(argc, argv).run();
}
