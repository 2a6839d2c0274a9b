#include "amqp/amqp_server.h"

#include <asio/io_context.hpp>

#include <mutex>
#include <vector>

#include "transport/listener.h"

namespace iothub::amqp {

struct AmqpServer::Impl {
  Impl(asio::io_context& loop, const transport::TlsServerContext& context, HubServices s, AmqpListenOptions o)
      : services(std::move(s)), options(std::move(o)), pending("AMQP", options.max_pending_connections), io(loop),
        tls(context) {}

  transport::Listener::SessionFactory Connections() {
    return [this](std::unique_ptr<transport::ByteStream> stream, transport::PendingSlot slot) {
      auto handler = [this](AmqpConnection& c) { return std::make_unique<HubLinks>(c, services); };
      auto connection = std::make_shared<AmqpConnection>(std::move(stream), options.connection, handler,
                                                         PolicyPlainCheck(services.sas, services.entity.hub_name),
                                                         std::move(slot));
      {
        std::lock_guard lock(mu);
        std::erase_if(live, [](const std::weak_ptr<AmqpConnection>& w) { return w.expired(); });
        live.push_back(connection);
      }
      connection->Start();
    };
  }

  HubServices services;
  AmqpListenOptions options;
  transport::PendingConnections pending;
  asio::io_context& io;
  const transport::TlsServerContext& tls;
  std::mutex mu;
  std::vector<std::weak_ptr<AmqpConnection>> live;  // guarded by mu: to let go of the hub at shutdown
  std::optional<transport::Listener> tls_listener{std::in_place, io, &tls, pending, Connections()};
  std::optional<transport::Listener> plain_listener{std::in_place, io, nullptr, pending, Connections()};
};

AmqpServer::AmqpServer(asio::io_context& io, const transport::TlsServerContext& tls, HubServices services,
                       AmqpListenOptions options)
    : impl_(std::make_unique<Impl>(io, tls, std::move(services), std::move(options))) {}

AmqpServer::~AmqpServer() { Stop(); }

std::optional<std::string> AmqpServer::Bind() {
  const AmqpListenOptions& o = impl_->options;
  if (auto error = impl_->tls_listener->Bind(o.bind, o.tls_port, "--amqp-port")) return error;
  if (o.plain_port > 0) return impl_->plain_listener->Bind(o.bind, o.plain_port, "--amqp-plain-port");
  return std::nullopt;
}

void AmqpServer::Start() {
  impl_->tls_listener->Start();
  if (impl_->plain_listener->is_open()) impl_->plain_listener->Start();
}

void AmqpServer::Adopt(std::unique_ptr<transport::ByteStream> stream) {
  auto slot = impl_->pending.TryTake();
  if (!slot) {
    stream->Close();
    return;
  }
  impl_->Connections()(std::move(stream), std::move(*slot));
}

void AmqpServer::Stop() {
  impl_->tls_listener.reset();
  impl_->plain_listener.reset();
  std::lock_guard lock(impl_->mu);
  for (auto& weak : impl_->live) {
    if (auto c = weak.lock()) c->Abandon();
  }
  impl_->live.clear();
}

int AmqpServer::tls_port() const { return impl_->tls_listener ? impl_->tls_listener->port() : 0; }
int AmqpServer::plain_port() const { return impl_->plain_listener ? impl_->plain_listener->port() : 0; }

}  // namespace iothub::amqp
