// The HTTPS port as a careless client or an attacker meets it: idle connections,
// bodies and headers past the limits without credentials, and a restart while the
// last run's connections linger in TIME_WAIT (issue: 443 on our own event loop).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "integration/emulator_process.h"
#include "integration/raw_https_client.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;

// A plain TCP connection that never says anything.
struct IdleSocket {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  explicit IdleSocket(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~IdleSocket() { ::close(fd); }
  IdleSocket(const IdleSocket&) = delete;
};

// Sockets on local `port` in TIME_WAIT (state 06 in /proc/net/tcp).
int TimeWaitOn(int port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  int count = 0;
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const int local_port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
    if (local_port == port && state == "06") ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("HTTPS: REST answers within 1 s while 300 idle connections sit on the port") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  std::vector<std::unique_ptr<IdleSocket>> idle;
  for (int i = 0; i < 250; ++i) idle.push_back(std::make_unique<IdleSocket>(hub.https_port()));
  // ...and some that finished their TLS handshake and then said nothing.
  std::vector<std::unique_ptr<RawTlsConnection>> idle_tls;
  for (int i = 0; i < 50; ++i) idle_tls.push_back(std::make_unique<RawTlsConnection>(hub.https_port()));

  for (const char* path : {"/health", "/devices/dev1", "/statistics/devices"}) {
    CAPTURE(path);
    const auto t0 = std::chrono::steady_clock::now();
    auto res = hub.Get(path);
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(took < 1s);
  }
}

TEST_CASE("HTTPS: a body or headers past the limits, without credentials, are cut off and cost bounded memory") {
  EmulatorProcess hub;
  const size_t rss_before = RssKiB(hub.pid());
  constexpr int kUploads = 8;
  constexpr size_t kTry = 200u << 20;  // what each client would send if let: 200 MB
  // Chunked PUTs, the form whose size is not known up front.
  std::vector<std::future<size_t>> uploads;
  for (int i = 0; i < kUploads; ++i) {
    uploads.push_back(std::async(std::launch::async, [&hub] {
      RawTlsConnection c(hub.https_port());
      std::string head =
          "PUT /devices/big?api-version=2021-04-12 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
      if (!c.Write(head)) return size_t{0};
      const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
      size_t sent = 0;
      while (sent < kTry && c.Write(chunk)) sent += 0x10000;
      return sent;
    }));
  }
  // And a request that would send 3,000,000 header fields (~80 MB) if let. The count alone cannot tell a cut-off from
  // a client whose whole request fit in the socket buffers, so the bytes that got in are measured like the uploads'.
  auto headers = std::async(std::launch::async, [&hub] {
    RawTlsConnection c(hub.https_port());
    if (!c.Write("GET /devices HTTP/1.1\r\nHost: localhost\r\n")) return size_t{0};
    size_t sent = 0;
    for (int n = 0; n < 3000000; n += 1000) {
      std::string batch;
      for (int i = 0; i < 1000; ++i) batch += "X-Filler-" + std::to_string(n + i) + ": v\r\n";
      if (!c.Write(batch)) break;
      sent += batch.size();
    }
    return sent;
  });
  for (auto& u : uploads) {
    const size_t sent = u.get();
    CHECK(sent > 0);
    CHECK(sent < (16u << 20));  // cut off near 512 KiB (socket buffers take a few MB more)
  }
  CHECK(headers.get() < (16u << 20));  // cut off at the header limits, far below the ~80 MB offered
  const size_t rss_after = RssKiB(hub.pid());
  MESSAGE("RSS before " << rss_before << " KiB, after " << rss_after << " KiB");
  CHECK(rss_after < rss_before + 32 * 1024);
  CHECK(hub.Get("/devices/big")->status == 404);  // nothing was written
  CHECK(hub.Get("/health")->status == 200);
}

TEST_CASE("HTTPS: a restart right after the server closed its connections comes back on the same port") {
  const int port = FreePort();
  const std::string data_dir = FreshDataDir("time-wait");
  {
    EmulatorProcess hub({"--https-port", std::to_string(port)}, data_dir);
    CreateTestDevice(hub, "dev1");
    // "Connection: close": the server closes first, so its side lingers in TIME_WAIT.
    for (int i = 0; i < 3; ++i) {
      CHECK(StatusOf(RawHttpsExchange(port, "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) ==
            200);
    }
    CHECK(hub.Stop() == 0);
  }
  REQUIRE(TimeWaitOn(port) > 0);  // the situation this test is about
  EmulatorProcess again({"--https-port", std::to_string(port)}, data_dir);
  CHECK(again.https_port() == port);
  auto res = again.Get("/devices/dev1");
  REQUIRE(res);
  CHECK(res->status == 200);
}

}  // namespace iothub::testing
