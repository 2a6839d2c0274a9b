#include "mqtt/mqtt_server.h"

#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

#include "mqtt/mqtt_session.h"
#include "tls/server_context.h"

namespace iothub::mqtt {

struct MqttServer::Impl {
  Impl(MqttServices s, MqttOptions o) : services(s), options(std::move(o)) {}

  void Accept(asio::ip::tcp::acceptor& acceptor, SSL_CTX* tls) {
    acceptor.async_accept(asio::make_strand(io), [this, &acceptor, tls](const asio::error_code& ec,
                                                                         asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec && pending >= options.max_pending_connections) {
        // Strangers may not pile up: a connection that has not signed in holds buffers.
        int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
        int64_t last = last_refusal_logged.load();
        if (now - last >= 10 && last_refusal_logged.compare_exchange_strong(last, now)) {
          spdlog::warn("MQTT: {} connections are waiting to sign in; closing new ones until they do",
                       options.max_pending_connections);
        }
        asio::error_code ignored;
        socket.close(ignored);
      } else if (!ec) {
        std::make_shared<MqttSession>(std::move(socket), tls, services, options, PendingSlot(pending))->Start();
      }
      Accept(acceptor, tls);
    });
  }

  std::optional<std::string> Listen(asio::ip::tcp::acceptor& acceptor, const std::string& bind, int port,
                                    const char* flag) {
    asio::error_code ec;
    auto address = asio::ip::make_address(bind, ec);
    if (ec) return "'" + bind + "' is not an IP address";
    asio::ip::tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::string why = ec.message();
      if (ec == asio::error::access_denied) why += " (ports below 1024 need privileges)";
      return bind + ":" + std::to_string(port) + ": " + why + "; choose another port with " + flag;
    }
    return std::nullopt;
  }

  MqttServices services;
  MqttOptions options;
  std::atomic<size_t> pending{0};  // sessions not yet signed in; outlives them (declared before io)
  std::atomic<int64_t> last_refusal_logged{0};  // steady seconds; both listeners' accepts write it
  asio::io_context io;
  SSL_CTX* tls = SSL_CTX_new(TLS_server_method());
  asio::ip::tcp::acceptor tls_acceptor{io};
  asio::ip::tcp::acceptor plain_acceptor{io};
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
};

MqttServer::MqttServer(const tls::TlsMaterial& tls, MqttServices services, MqttOptions options)
    : impl_(std::make_unique<Impl>(services, std::move(options))) {
  SSL_CTX* ctx = impl_->tls;
  if (!tls::ConfigureServerContext(*ctx, tls)) throw std::runtime_error("the TLS certificate or key could not be loaded");
  // Idle connections give their TLS buffers back: thousands of devices sit idle.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Devices reconnect rarely: a server-side session cache would keep memory per
  // connection for resumptions that seldom come. (TLS 1.3 tickets stay on: they
  // are stateless, and without them libmosquitto clients wait ~40 ms on delayed
  // ACKs before their CONNECT goes out.)
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

MqttServer::~MqttServer() {
  Stop();
  SSL_CTX_free(impl_->tls);
}

std::optional<std::string> MqttServer::Bind() {
  if (auto error = impl_->Listen(impl_->tls_acceptor, impl_->options.tls_bind, impl_->options.tls_port, "--mqtt-port")) {
    return error;
  }
  if (impl_->options.plain_port > 0) {
    return impl_->Listen(impl_->plain_acceptor, impl_->options.plain_bind, impl_->options.plain_port,
                         "--mqtt-plain-port");
  }
  return std::nullopt;
}

void MqttServer::Start() {
  impl_->Accept(impl_->tls_acceptor, impl_->tls);
  if (impl_->plain_acceptor.is_open()) impl_->Accept(impl_->plain_acceptor, nullptr);
  impl_->work.emplace(impl_->io.get_executor());
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

void MqttServer::Stop() {
  if (impl_->threads.empty()) return;
  asio::post(impl_->io, [this] {
    asio::error_code ignored;
    impl_->tls_acceptor.close(ignored);
    impl_->plain_acceptor.close(ignored);
  });
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

int MqttServer::tls_port() const {
  asio::error_code ec;
  return impl_->tls_acceptor.local_endpoint(ec).port();
}

int MqttServer::plain_port() const {
  asio::error_code ec;
  return impl_->plain_acceptor.is_open() ? impl_->plain_acceptor.local_endpoint(ec).port() : 0;
}

}  // namespace iothub::mqtt
