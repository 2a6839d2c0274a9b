#include "mqtt/mqtt_server.h"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <thread>
#include <vector>

#include "mqtt/mqtt_session.h"
#include "transport/listener.h"

namespace iothub::mqtt {

struct MqttServer::Impl {
  Impl(const tls::TlsMaterial& material, MqttServices s, MqttOptions o)
      : services(s), options(std::move(o)), tls(material), pending("MQTT", options.max_pending_connections) {}

  transport::Listener::SessionFactory Sessions() {
    return [this](std::unique_ptr<transport::ByteStream> stream, transport::PendingSlot slot) {
      std::make_shared<MqttSession>(std::move(stream), services, options, std::move(slot))->Start();
    };
  }

  MqttServices services;
  MqttOptions options;
  transport::TlsServerContext tls;
  transport::PendingConnections pending;  // both listeners' strangers; outlives the sessions (declared before io)
  asio::io_context io;
  transport::Listener tls_listener{io, &tls, pending, Sessions()};
  transport::Listener plain_listener{io, nullptr, pending, Sessions()};
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
};

MqttServer::MqttServer(const tls::TlsMaterial& tls, MqttServices services, MqttOptions options)
    : impl_(std::make_unique<Impl>(tls, services, std::move(options))) {}

MqttServer::~MqttServer() { Stop(); }

std::optional<std::string> MqttServer::Bind() {
  const MqttOptions& o = impl_->options;
  if (auto error = impl_->tls_listener.Bind(o.tls_bind, o.tls_port, "--mqtt-port")) return error;
  if (o.plain_port > 0) return impl_->plain_listener.Bind(o.plain_bind, o.plain_port, "--mqtt-plain-port");
  return std::nullopt;
}

void MqttServer::Start() {
  impl_->tls_listener.Start();
  if (impl_->plain_listener.is_open()) impl_->plain_listener.Start();
  impl_->work.emplace(impl_->io.get_executor());
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

void MqttServer::Stop() {
  if (impl_->threads.empty()) return;
  asio::post(impl_->io, [this] {
    impl_->tls_listener.Close();
    impl_->plain_listener.Close();
  });
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

int MqttServer::tls_port() const { return impl_->tls_listener.port(); }

int MqttServer::plain_port() const { return impl_->plain_listener.port(); }

}  // namespace iothub::mqtt
