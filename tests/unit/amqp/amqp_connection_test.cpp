#include "amqp/amqp_connection.h"

#include <doctest/doctest.h>
#include <proton/delivery.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/transport.h>

#include <asio/io_context.hpp>
#include <asio/post.hpp>

namespace iothub::amqp {
namespace {

using Io = transport::ByteStream::Io;

// The client's bytes in memory: Feed queues what it sends; the server's writes collect in `sent`.
class MemoryStream final : public transport::ByteStream {
 public:
  explicit MemoryStream(asio::io_context& io) : io_(io) {}
  void Feed(std::string_view bytes) {
    input_.append(bytes);
    if (reader_) asio::post(io_, [then = std::exchange(reader_, nullptr)] { then({}); });
  }
  // The client's end of the stream: once its bytes are read, reads say kClosed.
  void End() {
    ended_ = true;
    Feed("");
  }
  std::string sent;
  bool closed = false;

  asio::any_io_executor executor() override { return io_.get_executor(); }
  Io Handshake() override { return Io::kDone; }
  Io Read(char* data, size_t size, size_t* read) override {
    *read = std::min(size, input_.size());
    if (*read == 0) return ended_ ? Io::kClosed : Io::kWantRead;
    input_.copy(data, *read);
    input_.erase(0, *read);
    return Io::kDone;
  }
  Io Write(const char* data, size_t size, size_t* written) override {
    sent.append(data, size);
    *written = size;
    return Io::kDone;
  }
  bool HasBufferedInput() const override { return !input_.empty() || ended_; }
  void Wait(Io want, WaitHandler then) override {
    if (want == Io::kWantRead && input_.empty() && !ended_ && !closed) {
      reader_ = std::move(then);
      return;
    }
    asio::post(io_, [then] { then({}); });
  }
  void Close() override {
    closed = true;
    if (reader_) asio::post(io_, [then = std::exchange(reader_, nullptr)] { then(asio::error::operation_aborted); });
  }
  const std::string& error() const override { return text_; }
  const char* kind() const override { return "memory"; }
  const std::string& peer() const override { return text_; }

 private:
  asio::io_context& io_;
  std::string input_;
  bool ended_ = false;
  WaitHandler reader_;
  std::string text_ = "memory";
};

class NoLinks final : public LinkHandler {
 public:
  void OnLinkOpen(pn_link_t* link) override { RefuseLink(link, "amqp:not-found", "none"); }
  void OnMessage(pn_link_t*, pn_delivery_t* d, std::string) override { amqp::Accept(d); }
  void OnOutcome(pn_link_t*, pn_delivery_t* d) override { pn_delivery_settle(d); }
  void OnCredit(pn_link_t*) override {}
  void OnLinkClosed(pn_link_t*) override {}
  void OnSignedIn(const Principal&) override {}
  void OnTick() override {}
  std::chrono::steady_clock::time_point Deadline() override { return std::chrono::steady_clock::time_point::max(); }
};

std::shared_ptr<AmqpConnection> Serve(std::unique_ptr<MemoryStream> stream, std::atomic<size_t>& pending) {
  static const AmqpOptions options;
  return std::make_shared<AmqpConnection>(
      std::move(stream), options, [](AmqpConnection&) { return std::make_unique<NoLinks>(); },
      [](const std::string&, const std::string&) { return std::optional<Principal>(); }, transport::PendingSlot(pending));
}

}  // namespace

TEST_CASE("AmqpConnection: a stream that ends inside a frame ends the connection at once") {
  asio::io_context io;
  std::atomic<size_t> pending{0};
  auto owned = std::make_unique<MemoryStream>(io);
  MemoryStream* stream = owned.get();
  auto server = Serve(std::move(owned), pending);
  server->Start();
  // The AMQP header, then the first bytes of an OPEN frame (its size says 0x30 bytes), then the end.
  stream->Feed(std::string("AMQP\x00\x01\x00\x00\x00\x00\x00\x30\x02\x00\x00\x00\x00\x53\x10", 17));
  stream->End();
  for (int round = 0; round < 1000 && io.poll() > 0; ++round) {
  }
  CHECK(stream->closed);
  CHECK(pending == 0);
  server.reset();
  io.restart();
  io.poll();
}

TEST_CASE("AmqpConnection: after the client's CLOSE is answered, the server closes the socket itself") {
  asio::io_context io;
  std::atomic<size_t> pending{0};
  const AmqpOptions options;
  auto owned = std::make_unique<MemoryStream>(io);
  MemoryStream* stream = owned.get();
  auto server = std::make_shared<AmqpConnection>(
      std::move(owned), options, [](AmqpConnection&) { return std::make_unique<NoLinks>(); },
      [](const std::string&, const std::string&) { return std::optional<Principal>(); }, transport::PendingSlot(pending));
  server->Start();

  pn_connection_driver_t client;
  pn_connection_driver_init(&client, nullptr, nullptr);
  pn_connection_set_container(client.connection, "test-client");
  pn_connection_open(client.connection);
  // Moves bytes both ways and runs both sides until neither has anything to do.
  auto exchange = [&] {
    for (int round = 0; round < 100; ++round) {
      while (pn_connection_driver_next_event(&client)) {
      }
      bool moved = false;
      for (pn_bytes_t out = pn_connection_driver_write_buffer(&client); out.size > 0;
           out = pn_connection_driver_write_buffer(&client)) {
        stream->Feed(std::string_view(out.start, out.size));
        pn_connection_driver_write_done(&client, out.size);
        moved = true;
      }
      io.restart();
      while (io.poll() > 0) moved = true;
      while (!stream->sent.empty()) {
        pn_rwbytes_t in = pn_connection_driver_read_buffer(&client);
        if (in.size == 0) break;
        const size_t n = std::min(in.size, stream->sent.size());
        std::copy_n(stream->sent.data(), n, in.start);
        stream->sent.erase(0, n);
        pn_connection_driver_read_done(&client, n);
        moved = true;
      }
      if (!moved) return;
    }
  };

  exchange();
  REQUIRE((pn_connection_state(client.connection) & PN_REMOTE_ACTIVE) != 0);
  CHECK(pending == 0);  // it spoke AMQP: no longer pending
  CHECK_FALSE(stream->closed);

  pn_connection_close(client.connection);
  exchange();
  CHECK((pn_connection_state(client.connection) & PN_REMOTE_CLOSED) != 0);
  // The client has not closed its end of the socket: the server must not wait for it.
  CHECK(stream->closed);

  pn_connection_driver_destroy(&client);
  server.reset();
  io.restart();
  io.poll();
}

}  // namespace iothub::amqp
