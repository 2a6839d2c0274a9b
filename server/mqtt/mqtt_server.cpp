#include "mqtt/mqtt_server.h"

#include <asio/io_context.hpp>

#include <optional>

#include "mqtt/mqtt_session.h"
#include "transport/listener.h"

namespace iothub::mqtt {

struct MqttServer::Impl {
  Impl(asio::io_context& loop, const transport::TlsServerContext& context, MqttServices s, MqttOptions o)
      : services(s), options(std::move(o)), tls(context), pending("MQTT", options.max_pending_connections),
        io(loop) {}

  transport::Listener::SessionFactory Sessions() {
    return [this](std::unique_ptr<transport::ByteStream> stream, transport::PendingSlot slot) {
      std::make_shared<MqttSession>(std::move(stream), services, options, std::move(slot))->Start();
    };
  }

  MqttServices services;
  MqttOptions options;
  const transport::TlsServerContext& tls;
  transport::PendingConnections pending;  // every listener's strangers
  asio::io_context& io;
  // Reset by Stop(): sockets must go before the event loop's io_context does.
  std::optional<transport::Listener> tls_listener{std::in_place, io, &tls, pending, Sessions()};
  std::optional<transport::Listener> plain_listener{std::in_place, io, nullptr, pending, Sessions()};
};

MqttServer::MqttServer(asio::io_context& io, const transport::TlsServerContext& tls, MqttServices services,
                       MqttOptions options)
    : impl_(std::make_unique<Impl>(io, tls, services, std::move(options))) {}

MqttServer::~MqttServer() { Stop(); }

std::optional<std::string> MqttServer::Bind() {
  const MqttOptions& o = impl_->options;
  if (auto error = impl_->tls_listener->Bind(o.tls_bind, o.tls_port, "--mqtt-port")) return error;
  if (o.plain_port > 0) return impl_->plain_listener->Bind(o.plain_bind, o.plain_port, "--mqtt-plain-port");
  return std::nullopt;
}

void MqttServer::Start() {
  impl_->tls_listener->Start();
  if (impl_->plain_listener->is_open()) impl_->plain_listener->Start();
}

void MqttServer::Adopt(std::unique_ptr<transport::ByteStream> stream) {
  auto slot = impl_->pending.TryTake();
  if (!slot) {
    stream->Close();  // strangers may not pile up, whichever way they came
    return;
  }
  impl_->Sessions()(std::move(stream), std::move(*slot));
}

void MqttServer::Stop() {
  impl_->tls_listener.reset();
  impl_->plain_listener.reset();
}

int MqttServer::tls_port() const { return impl_->tls_listener ? impl_->tls_listener->port() : 0; }

int MqttServer::plain_port() const { return impl_->plain_listener ? impl_->plain_listener->port() : 0; }

}  // namespace iothub::mqtt
