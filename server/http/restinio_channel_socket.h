// RESTinio's customisation points for ChannelSocket. Include after <restinio/all.hpp>
// (or the RESTinio headers used) and before any http_server_t<Traits> is instantiated.
//
// RESTinio 0.6.16 special-cases its own tls_socket_t in four places; each has a
// counterpart here:
//  1. socket_type_dependent_settings_t<Settings, Socket>: extra server settings
//     -> .tls_channel_context(SSL_CTX*) and .tls_handshake_timeout(d)
//  2. impl::socket_supplier_t<Socket>: the acceptor's pool of sockets to accept
//     into (the generic one builds Socket{io_context} and reuses a moved-from one)
//  3. prepare_connection_and_start_read(Socket&, conn, start_read_cb, failed_cb),
//     found by ADL from connection_t::init(): runs the handshake
//  4. make_tls_socket_pointer_for_state_listener(Socket&), found by ADL: nullptr
//     (connection_state::accepted_t only knows tls_socket_t)
#pragma once

#include <restinio/settings.hpp>
#include <restinio/impl/acceptor.hpp>
#include <restinio/tls_fwd.hpp>

#include <asio/dispatch.hpp>

#include <chrono>
#include <vector>

#include "http/channel_socket.h"

namespace restinio {

template <typename Settings>
class socket_type_dependent_settings_t<Settings, iothub::http::ChannelSocket> {
 protected:
  ~socket_type_dependent_settings_t() noexcept = default;

 public:
  socket_type_dependent_settings_t() noexcept = default;
  socket_type_dependent_settings_t(const socket_type_dependent_settings_t&) noexcept = default;
  socket_type_dependent_settings_t(socket_type_dependent_settings_t&&) noexcept = default;
  socket_type_dependent_settings_t& operator=(const socket_type_dependent_settings_t&) noexcept = default;
  socket_type_dependent_settings_t& operator=(socket_type_dependent_settings_t&&) noexcept = delete;

  // Not owned: must outlive the server. nullptr = plain TCP.
  Settings& tls_channel_context(SSL_CTX* ctx) & {
    ctx_ = ctx;
    return static_cast<Settings&>(*this);
  }
  Settings&& tls_channel_context(SSL_CTX* ctx) && { return std::move(tls_channel_context(ctx)); }
  SSL_CTX* tls_channel_context() const { return ctx_; }

  Settings& tls_handshake_timeout(std::chrono::steady_clock::duration d) & {
    handshake_timeout_ = d;
    return static_cast<Settings&>(*this);
  }
  Settings&& tls_handshake_timeout(std::chrono::steady_clock::duration d) && {
    return std::move(tls_handshake_timeout(d));
  }
  std::chrono::steady_clock::duration tls_handshake_timeout() const { return handshake_timeout_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  std::chrono::steady_clock::duration handshake_timeout_ = std::chrono::seconds(10);
};

namespace impl {

template <>
class socket_supplier_t<iothub::http::ChannelSocket> {
 protected:
  template <typename Settings>
  socket_supplier_t(Settings& settings, asio_ns::io_context& io_context)
      : ctx_(settings.tls_channel_context()), handshake_timeout_(settings.tls_handshake_timeout()), io_context_(io_context) {
    sockets_.reserve(settings.concurrent_accepts_count());
    while (sockets_.size() < settings.concurrent_accepts_count()) sockets_.emplace_back(Make());
  }
  virtual ~socket_supplier_t() = default;

  iothub::http::ChannelSocket& socket(std::size_t idx) { return sockets_.at(idx); }
  iothub::http::ChannelSocket move_socket(std::size_t idx) {
    iothub::http::ChannelSocket fresh = Make();
    std::swap(fresh, sockets_.at(idx));
    return fresh;
  }
  std::size_t concurrent_accept_sockets_count() const { return sockets_.size(); }

 private:
  iothub::http::ChannelSocket Make() { return iothub::http::ChannelSocket{io_context_, ctx_, handshake_timeout_}; }

  SSL_CTX* ctx_;
  std::chrono::steady_clock::duration handshake_timeout_;
  asio_ns::io_context& io_context_;
  std::vector<iothub::http::ChannelSocket> sockets_;
};

}  // namespace impl
}  // namespace restinio

namespace iothub::http {

// The handshake's end continues on the connection's strand, like every other completion.
template <typename Connection, typename Start_Read_CB, typename Failed_CB>
void prepare_connection_and_start_read(ChannelSocket& socket, Connection& con, Start_Read_CB start_read_cb,
                                       Failed_CB failed_cb) {
  socket.async_handshake([start_read_cb = std::move(start_read_cb), failed_cb = std::move(failed_cb),
                          con = con.shared_from_this(), executor = con.get_executor()](const std::error_code& ec) {
    asio::dispatch(executor, [start_read_cb, failed_cb, con, ec]() mutable {
      if (!ec)
        start_read_cb();
      else
        failed_cb(ec);
    });
  });
}

inline restinio::impl::tls_socket_t* make_tls_socket_pointer_for_state_listener(ChannelSocket&) noexcept {
  return nullptr;
}

}  // namespace iothub::http
