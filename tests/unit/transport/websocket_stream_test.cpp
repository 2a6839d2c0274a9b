// WebSocketStream over a real loopback TCP connection: the server end is a TcpStream,
// the test plays the client with raw frame bytes. Every wait has a deadline.
#include "transport/websocket_stream.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/tcp_stream.h"

namespace iothub::transport {
namespace {

using namespace std::string_literals;
using Io = ByteStream::Io;
using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(10);

const std::string kResponse =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";

// A frame as a client sends it (masked unless told otherwise), with the shortest length encoding.
std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true) {
  std::string frame(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
  const int mask_bit = masked ? 0x80 : 0;
  const uint64_t size = payload.size();
  if (size < 126) {
    frame += static_cast<char>(mask_bit | size);
  } else if (size <= 0xffff) {
    frame += static_cast<char>(mask_bit | 126);
    for (int shift = 8; shift >= 0; shift -= 8) frame += static_cast<char>(size >> shift);
  } else {
    frame += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>(size >> shift);
  }
  const char key[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  if (masked) frame.append(key, 4);
  for (size_t i = 0; i < size; ++i) frame += static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0));
  return frame;
}

std::string Pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 % 251);
  return bytes;
}

std::string CloseStatus(unsigned status) {
  return {static_cast<char>(status >> 8), static_cast<char>(status & 0xff)};
}

// A frame the server sent, as the client reads it.
struct ServerFrame {
  int first_byte = -1;  // FIN, RSV and opcode; -1 when none came before the deadline
  bool masked = false;
  std::string payload;
};

class Connection {
 public:
  // small_buffers: small socket buffers on both ends, so a client that does not read fills them soon.
  explicit Connection(bool small_buffers = false) {
    asio::ip::tcp::acceptor acceptor(io_, {asio::ip::address_v4::loopback(), 0});
    client_.open(asio::ip::tcp::v4());
    if (small_buffers) client_.set_option(asio::socket_base::receive_buffer_size(4096));
    client_.connect(acceptor.local_endpoint());
    asio::ip::tcp::socket server = acceptor.accept();
    if (small_buffers) server.set_option(asio::socket_base::send_buffer_size(4096));
    client_.non_blocking(true);
    ws_ = std::make_unique<WebSocketStream>(std::make_unique<TcpStream>(std::move(server)), kResponse);
  }

  WebSocketStream& ws() { return *ws_; }

  // Sends the 101 response and reads it on the client.
  bool Handshake() {
    Io io;
    while ((io = ws_->Handshake()) != Io::kDone) {
      if (io != Io::kWantWrite && io != Io::kWantRead) return false;
      if (!WaitFor(io)) return false;
    }
    return Receive(kResponse.size()) == kResponse;
  }

  // Runs the io_context until the stream's Wait(want) calls back, or the deadline passes.
  bool WaitFor(Io want) {
    auto fired = std::make_shared<bool>(false);
    ws_->Wait(want, [fired](const std::error_code&) { *fired = true; });
    const auto deadline = Clock::now() + kTimeout;
    io_.restart();
    while (!*fired && Clock::now() < deadline) io_.run_one_until(deadline);
    return *fired;
  }

  // Reads with buffers of buffer_size as the session does, waiting when told to, until
  // `out` holds `want` bytes or the stream ends; returns the last answer.
  Io Read(std::string* out, size_t want = SIZE_MAX, size_t buffer_size = 16384) {
    std::vector<char> buffer(buffer_size);
    Io io = Io::kDone;
    while (out->size() < want) {
      size_t n = 0;
      io = ws_->Read(buffer.data(), buffer.size(), &n);
      if (io == Io::kDone) {
        CHECK(n > 0);
        out->append(buffer.data(), n);
      } else if (io == Io::kWantRead || io == Io::kWantWrite) {
        if (!WaitFor(io)) break;
      } else {
        break;
      }
    }
    return io;
  }

  // Writes all of data as the session does: after kWantWrite the same bytes again.
  bool WriteAll(std::string_view data) {
    size_t offset = 0;
    while (offset < data.size()) {
      size_t n = 0;
      Io io = ws_->Write(data.data() + offset, data.size() - offset, &n);
      if (io == Io::kDone) {
        offset += n;
      } else if (io == Io::kWantWrite || io == Io::kWantRead) {
        CHECK(n == 0);
        if (!WaitFor(io)) return false;
      } else {
        return false;
      }
    }
    return true;
  }

  void Send(std::string_view bytes) {
    const auto deadline = Clock::now() + kTimeout;
    while (!bytes.empty() && Clock::now() < deadline) {
      pollfd p{client_.native_handle(), POLLOUT, 0};
      ::poll(&p, 1, 100);
      ssize_t n = ::send(client_.native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) bytes.remove_prefix(static_cast<size_t>(n));
    }
    REQUIRE(bytes.empty());
  }

  // Up to n bytes: fewer only if the connection ended or the deadline passed.
  std::string Receive(size_t n) {
    std::string bytes;
    const auto deadline = Clock::now() + kTimeout;
    while (bytes.size() < n && Clock::now() < deadline) {
      pollfd p{client_.native_handle(), POLLIN, 0};
      ::poll(&p, 1, 100);
      char buffer[65536];
      ssize_t got = ::recv(client_.native_handle(), buffer, std::min(sizeof buffer, n - bytes.size()), 0);
      if (got == 0) break;
      if (got > 0) bytes.append(buffer, static_cast<size_t>(got));
    }
    return bytes;
  }

  ServerFrame ReceiveFrame() {
    ServerFrame frame;
    std::string head = Receive(2);
    if (head.size() < 2) return frame;
    frame.first_byte = static_cast<unsigned char>(head[0]);
    frame.masked = (head[1] & 0x80) != 0;
    uint64_t size = head[1] & 0x7f;
    if (size >= 126) {
      const std::string extended = Receive(size == 126 ? 2 : 8);
      size = 0;
      for (unsigned char byte : extended) size = size << 8 | byte;
    }
    frame.payload = Receive(size);
    return frame;
  }

  // Frames until their payloads add up to total bytes (or the deadline passed).
  std::vector<ServerFrame> ReceiveFrames(size_t total) {
    std::vector<ServerFrame> frames;
    size_t got = 0;
    while (got < total) {
      frames.push_back(ReceiveFrame());
      if (frames.back().first_byte < 0) break;
      got += frames.back().payload.size();
    }
    return frames;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket client_{io_};
  std::unique_ptr<WebSocketStream> ws_;
};

// Writes `data` while the socket takes it; the offset reached when Write says kWantWrite (with nothing written).
size_t WriteUntilStalled(Connection& c, const std::string& data) {
  size_t offset = 0;
  Io io = Io::kDone;
  size_t n = 0;
  while (offset < data.size() && io == Io::kDone) {
    io = c.ws().Write(data.data() + offset, data.size() - offset, &n);
    offset += n;
  }
  REQUIRE(io == Io::kWantWrite);
  CHECK(n == 0);
  return offset;
}

TEST_CASE("WebSocketStream: Handshake sends the 101 response as given") {
  Connection c;
  CHECK(c.Handshake());
  CHECK(std::string(c.ws().kind()) == "WebSocket over plain TCP");
}

TEST_CASE("WebSocketStream: one packet split over many frames reads as one byte stream") {
  Connection c;
  REQUIRE(c.Handshake());
  const std::string packet = Pattern(40);  // mqtt.js sends one CONNECT as 11 frames
  std::string frames = ClientFrame(2, packet.substr(0, 4), false);
  for (size_t at = 4; at < 40; at += 4) frames += ClientFrame(0, packet.substr(at, 4), at + 4 == 40);
  c.Send(frames);
  std::string read;
  CHECK(c.Read(&read, packet.size()) == Io::kDone);
  CHECK(read == packet);
}

TEST_CASE("WebSocketStream: several packets in one frame, then more frames, read in order") {
  Connection c;
  REQUIRE(c.Handshake());
  c.Send(ClientFrame(2, "\xc0\x00\xc0\x00\xe0\x00"s) + ClientFrame(2, "next") + ClientFrame(2, ""));
  std::string read;
  CHECK(c.Read(&read, 10) == Io::kDone);
  CHECK(read == "\xc0\x00\xc0\x00\xe0\x00next"s);
}

TEST_CASE("WebSocketStream: a payload read in small pieces is unmasked with the mask offset carried") {
  Connection c;
  REQUIRE(c.Handshake());
  const std::string payload = Pattern(70000);  // a 64-bit length
  const std::string frame = ClientFrame(2, payload) + ClientFrame(2, Pattern(301));
  c.Send(frame.substr(0, 3));  // the header itself split
  std::string read;
  CHECK(c.Read(&read, 0, 7) == Io::kDone);
  c.Send(frame.substr(3));
  CHECK(c.Read(&read, payload.size() + 301, 7) == Io::kDone);
  CHECK(read == payload + Pattern(301));
}

TEST_CASE("WebSocketStream: a ping between fragments is answered with a pong of the same payload") {
  Connection c;
  REQUIRE(c.Handshake());
  c.Send(ClientFrame(2, "abc", false) + ClientFrame(9, "ping payload of some length") + ClientFrame(0, "def"));
  std::string read;
  CHECK(c.Read(&read, 6, 3) == Io::kDone);  // 3-byte reads split the ping's payload too
  CHECK(read == "abcdef");
  ServerFrame pong = c.ReceiveFrame();
  CHECK(pong.first_byte == 0x8a);
  CHECK_FALSE(pong.masked);
  CHECK(pong.payload == "ping payload of some length");
}

TEST_CASE("WebSocketStream: a pong from the client is ignored") {
  Connection c;
  REQUIRE(c.Handshake());
  c.Send(ClientFrame(10, "unsolicited") + ClientFrame(2, "data"));
  std::string read;
  CHECK(c.Read(&read, 4) == Io::kDone);
  CHECK(read == "data");
  REQUIRE(c.WriteAll("ok"));
  ServerFrame first = c.ReceiveFrame();  // nothing was sent before it
  CHECK(first.first_byte == 0x82);
  CHECK(first.payload == "ok");
}

TEST_CASE("WebSocketStream: the client's close is answered with its status and Read says kClosed after the data") {
  Connection c;
  REQUIRE(c.Handshake());
  c.Send(ClientFrame(2, "last packet") + ClientFrame(8, CloseStatus(1001) + "going away"));
  std::string read;
  CHECK(c.Read(&read) == Io::kClosed);
  CHECK(read == "last packet");
  ServerFrame close = c.ReceiveFrame();
  CHECK(close.first_byte == 0x88);
  CHECK(close.payload == CloseStatus(1001));
  size_t n = 1;
  char byte;
  CHECK(c.ws().Read(&byte, 1, &n) == Io::kClosed);
  CHECK(n == 0);
}

TEST_CASE("WebSocketStream: a close without a status is answered with 1000") {
  Connection c;
  REQUIRE(c.Handshake());
  c.Send(ClientFrame(8, ""));
  std::string read;
  CHECK(c.Read(&read) == Io::kClosed);
  CHECK(c.ReceiveFrame().payload == CloseStatus(1000));
}

TEST_CASE("WebSocketStream: Close sends a close frame with 1000 and ends the connection") {
  Connection c;
  REQUIRE(c.Handshake());
  c.ws().Close();
  ServerFrame close = c.ReceiveFrame();
  CHECK(close.first_byte == 0x88);
  CHECK(close.payload == CloseStatus(1000));
  CHECK(c.Receive(1).empty());  // then end of stream
}

TEST_CASE("WebSocketStream: protocol violations fail the read and send a close frame with the status") {
  std::string top_bit_length = "\x82\xff";
  top_bit_length += "\x80\0\0\0\0\0\0\x01MASK"s;
  struct Case {
    const char* name;
    std::string bytes;
    unsigned status;
    const char* error;
  } cases[] = {
      {"unmasked", ClientFrame(2, "abc", true, false), 1002, "WebSocket: client frame not masked"},
      {"text", ClientFrame(1, "{}"), 1003, "text frame refused"},
      {"reserved bit", "\xc2" + ClientFrame(2, "abc").substr(1), 1002, "reserved bits"},
      {"unknown opcode", ClientFrame(3, "x"), 1002, "unknown opcode 3"},
      {"continuation alone", ClientFrame(0, "x"), 1002, "continuation frame without a message"},
      {"new message inside one", ClientFrame(2, "a", false) + ClientFrame(2, "b"), 1002, "new message before"},
      {"fragmented ping", ClientFrame(9, "x", false), 1002, "fragmented control frame"},
      {"long ping", ClientFrame(9, std::string(126, 'p')), 1002, "control frame payload over 125 bytes"},
      {"1-byte close", ClientFrame(8, "x"), 1002, "1-byte payload"},
      {"close status 1005", ClientFrame(8, CloseStatus(1005)), 1002, "invalid close status 1005"},
      {"length with its top bit", top_bit_length, 1002, "most significant bit"},
  };
  for (const Case& test : cases) {
    INFO(test.name);
    Connection c;
    REQUIRE(c.Handshake());
    c.Send(test.bytes);
    std::string read;
    CHECK(c.Read(&read) == Io::kFailed);
    CHECK(c.ws().error().find(test.error) != std::string::npos);
    ServerFrame close = c.ReceiveFrame();
    CHECK(close.first_byte == 0x88);
    CHECK(close.payload == CloseStatus(test.status));
  }
}

TEST_CASE("WebSocketStream: a header claiming 2^62 bytes costs nothing and its first bytes are read") {
  Connection c;
  REQUIRE(c.Handshake());
  std::string frame = "\x82\xff";
  frame += "\x40\0\0\0\0\0\0\0"s;
  const char key[4] = {1, 2, 3, 4};
  frame.append(key, 4);
  for (int i = 0; i < 5; ++i) frame += static_cast<char>("hello"[i] ^ key[i % 4]);
  c.Send(frame);
  std::string read;
  CHECK(c.Read(&read, 5) == Io::kDone);
  CHECK(read == "hello");
}

TEST_CASE("WebSocketStream: writes arrive as unmasked binary frames of at most 64 KiB") {
  Connection c;
  REQUIRE(c.Handshake());
  REQUIRE(c.WriteAll("\x20\x02\x00\x00"s));
  ServerFrame small = c.ReceiveFrame();
  CHECK(small.first_byte == 0x82);
  CHECK_FALSE(small.masked);
  CHECK(small.payload == "\x20\x02\x00\x00"s);

  const std::string big = Pattern(200 * 1024);
  std::vector<ServerFrame> frames;
  std::thread client([&] { frames = c.ReceiveFrames(big.size()); });
  const bool written = c.WriteAll(big);
  client.join();
  REQUIRE(written);
  std::string payload;
  std::vector<size_t> sizes;
  for (const ServerFrame& frame : frames) {
    CHECK(frame.first_byte == 0x82);
    CHECK_FALSE(frame.masked);
    sizes.push_back(frame.payload.size());
    payload += frame.payload;
  }
  CHECK(sizes == std::vector<size_t>{65536, 65536, 65536, 8192});
  CHECK(payload == big);
}

TEST_CASE("WebSocketStream: a write the socket cannot take yet finishes, in order, once the client reads") {
  Connection c(true);
  REQUIRE(c.Handshake());
  const std::string data = Pattern(8 << 20);
  // The client reads nothing: the socket buffers fill.
  const size_t offset = WriteUntilStalled(c, data);
  CHECK(offset < data.size());

  std::vector<ServerFrame> frames;
  std::thread client([&] { frames = c.ReceiveFrames(data.size()); });
  const bool written = c.WriteAll(std::string_view(data).substr(offset));  // the same bytes again first
  client.join();
  REQUIRE(written);
  std::string payload;
  for (const ServerFrame& frame : frames) {
    CHECK(frame.first_byte == 0x82);
    CHECK(frame.payload.size() <= 65536);
    payload += frame.payload;
  }
  CHECK(payload.size() == data.size());
  CHECK(payload == data);
}

TEST_CASE("WebSocketStream: a ping during a stalled write is answered after that write's frame") {
  Connection c(true);
  REQUIRE(c.Handshake());
  const std::string data = Pattern(4 << 20);
  const size_t offset = WriteUntilStalled(c, data);
  // The data frame after the ping shows when Read has taken the ping.
  c.Send(ClientFrame(9, "are you there") + ClientFrame(2, "x"));
  std::string read;
  CHECK(c.Read(&read, 1) == Io::kDone);
  CHECK(read == "x");

  std::vector<ServerFrame> frames;
  std::thread client([&] { frames = c.ReceiveFrames(data.size() + 13); });
  const bool written = c.WriteAll(std::string_view(data).substr(offset));
  client.join();
  REQUIRE(written);
  std::string payload;
  int pongs = 0;
  for (const ServerFrame& frame : frames) {
    if (frame.first_byte == 0x8a) {
      ++pongs;
      CHECK(frame.payload == "are you there");
    } else {
      CHECK(frame.first_byte == 0x82);
      payload += frame.payload;
    }
  }
  CHECK(pongs == 1);
  CHECK(payload == data);
}

}  // namespace
}  // namespace iothub::transport
