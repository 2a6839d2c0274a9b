// The only translation unit that instantiates RESTinio (its templates cost ~30 s
// and ~0.8 GB to compile): it turns RESTinio's requests into HttpRequest, routes
// them with our router, runs the handlers on a small pool, and writes the answers.
#include "http/rest_server.h"

#include <restinio/all.hpp>

#include "http/restinio_channel_socket.h"

#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "http/error_response.h"
#include "http/query_string.h"
#include "http/routes.h"
#include "http/websocket_handshake.h"
#include "transport/websocket_stream.h"

namespace iothub::http {
namespace {

// One traits type for TLS and plain listeners: one instantiation of RESTinio.
// Each connection is on a strand (ChannelSocket's), so the loop may have several threads.
struct Traits : restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t,
                                   restinio::default_request_handler_t, restinio::default_strand_t, ChannelSocket> {
  static constexpr bool use_connection_count_limiter = true;
};
using Server = restinio::http_server_t<Traits>;
using Request = restinio::request_handle_t;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

restinio::http_status_line_t StatusLine(int status) {
  return {restinio::http_status_code_t{static_cast<uint16_t>(status)}, ReasonPhrase(status)};
}

template <class Builder>
void AddHeaders(Builder& builder, const HttpResponse& r) {
  for (const auto& [name, value] : r.headers.fields()) builder.append_header(name, value);
  if (!r.content_type.empty()) builder.append_header(restinio::http_field::content_type, r.content_type);
}

// Any thread: RESTinio hands the write to the connection's strand.
void Respond(const Request& req, HttpResponse r, bool head) {
  auto builder = req->create_response(StatusLine(r.status));
  AddHeaders(builder, r);
  if (!head) builder.set_body(std::move(r.body));
  builder.done();
}

std::string_view RawPath(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view RawQuery(std::string_view target) {
  const size_t question = target.find('?');
  return question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
}

HttpRequest ToHttpRequest(const Request& req, RouteParams params) {
  const auto& h = req->header();
  HttpRequest out;
  out.method = h.method().c_str();
  const std::string_view target = h.request_target();
  out.path = std::string(RawPath(target));
  out.route_params = std::move(params);
  out.query = ParseQueryString(RawQuery(target));
  // Values as sent: an Authorization token's encoded `sr` must stay encoded.
  h.for_each_field([&](const restinio::http_header_field_t& f) { out.headers.Add(f.name(), f.value()); });
  out.body = req->body();
  out.remote_address = req->remote_endpoint().address().to_string();
  return out;
}

template <class F>
HttpResponse Guarded(const HttpRequest& r, F run) {
  try {
    return run();
  } catch (const std::exception& e) {
    spdlog::error("{} {} failed: {}", r.method, r.path, e.what());
    return ErrorResponse(Status::ServerError(std::string("The emulator failed to handle the request: ") + e.what()));
  }
}

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

}  // namespace

// One open event stream: pulls chunks from its source and writes each once the last
// went out. The server holds it until the client leaves (a write fails) or Close().
class ChunkedStream : public std::enable_shared_from_this<ChunkedStream> {
 public:
  using Builder = restinio::response_builder_t<restinio::chunked_output_t>;
  ChunkedStream(asio::io_context& io, Builder builder, std::unique_ptr<ChunkSource> source,
                std::function<void(ChunkedStream*)> ended)
      : strand_(asio::make_strand(io)), builder_(std::move(builder)), source_(std::move(source)),
        ended_(std::move(ended)) {}

  void Start() {
    builder_.flush();  // the status line and headers now
    asio::post(strand_, [self = shared_from_this()] { self->Pump(); });
  }

  // With the event loop stopped, at shutdown: lets go of the source (and its hold on the
  // event log) now. Handlers still queued on the stopped loop keep the stream itself alive
  // until the loop goes, which is after the event log.
  void Release() { source_.reset(); }

 private:
  // On strand_: ChunkSource wants one caller at a time.
  void Pump() {
    if (!source_) return;
    const std::string_view text = source_->TryNext();
    if (text.empty()) {
      source_->WhenReady([weak = weak_from_this(), strand = strand_] {
        asio::post(strand, [weak] {
          if (auto self = weak.lock()) self->Pump();
        });
      });
      return;
    }
    builder_.append_chunk(std::string(text));
    builder_.flush([weak = weak_from_this()](const std::error_code& ec) {
      auto self = weak.lock();
      if (!self) return;
      if (ec) {
        // The reader left. Nothing else of the stream is in flight (a flush and a WhenReady never are
        // at once): the source, and its hold on the event log, go now, whoever still holds the stream.
        self->source_.reset();
        return self->ended_(self.get());
      }
      asio::post(self->strand_, [self] { self->Pump(); });
    });
  }

  asio::strand<asio::io_context::executor_type> strand_;
  Builder builder_;
  std::unique_ptr<ChunkSource> source_;
  std::function<void(ChunkedStream*)> ended_;
};

struct RestServer::Impl {
  Impl(asio::io_context& loop, SSL_CTX* context, HttpContext c, RestOptions o, std::vector<WebSocketEndpoint> ws)
      : io(loop), tls(context), ctx(c), options(std::move(o)), websockets(std::move(ws)),
        handlers(static_cast<size_t>(std::max(1, options.handler_threads))) {}

  restinio::request_handling_status_t Handle(Request req) {
    const auto& h = req->header();
    const std::string_view target = h.request_target();
    const bool head = h.method() == restinio::http_method_head();
    // HTTP/1.1 makes Host mandatory and says to refuse a request without it (RFC 9112 §3.2);
    // IoT Hub's hub is named by it. (RESTinio does not tell the version: 1.0 is held to it too.)
    if (!h.has_field(restinio::http_field::host)) {
      Respond(req, ErrorResponse(Status::ArgumentInvalid("The Host header is missing")), head);
      return restinio::request_accepted();
    }
    if (auto ws = WebSocketsAt(RawPath(target)); !ws.empty()) return Upgrade(req, ws);

    // HEAD is GET without the body.
    auto routed = RouteApiRequest(head ? "GET" : h.method().c_str(), RawPath(target));
    if (!routed.ok()) {
      Respond(req, ErrorResponse(routed.status()), head);
      return restinio::request_accepted();
    }
    RoutedRequest route = std::move(routed).value();
    // Handlers read and write SQLite: they run on the pool, never on the event loop.
    asio::post(handlers, [this, req, head, route = std::move(route)]() mutable {
      auto request = std::make_shared<const HttpRequest>(ToHttpRequest(req, std::move(route.params)));
      std::visit(Overloaded{
                     [&](PlainHandler handler) {
                       Respond(req, Guarded(*request, [&] { return handler(ctx, *request); }), head);
                     },
                     [&](AsyncHandler handler) {
                       try {
                         handler(ctx, *request, [req, head](HttpResponse r) { Respond(req, std::move(r), head); });
                       } catch (const std::exception& e) {
                         spdlog::error("{} {} failed: {}", request->method, request->path, e.what());
                         Respond(req, ErrorResponse(Status::ServerError(e.what())), head);
                       }
                     },
                     [&](StreamingHandler handler) { Stream(req, handler(ctx, *request), head); },
                 },
                 route.handler);
    });
    return restinio::request_accepted();
  }

  // The endpoints at a path, one per sub-protocol (MQTT and AMQP share /$iothub/websocket).
  std::vector<const WebSocketEndpoint*> WebSocketsAt(std::string_view raw_path) const {
    std::vector<const WebSocketEndpoint*> found;
    for (const WebSocketEndpoint& ws : websockets) {
      if (raw_path == ws.path) found.push_back(&ws);
    }
    return found;
  }

  // On the connection's strand, inside the handler: the socket is ours to take only now.
  restinio::request_handling_status_t Upgrade(const Request& req, const std::vector<const WebSocketEndpoint*>& at) {
    std::vector<std::string_view> protocols;
    for (const WebSocketEndpoint* ws : at) protocols.push_back(ws->protocol);
    auto accepted = AcceptWebSocket(ToHttpRequest(req, {}), protocols);
    if (!accepted.ok()) {
      auto r = ErrorResponse(accepted.status());
      auto builder = req->create_response(StatusLine(r.status));
      AddHeaders(builder, r);
      builder.set_body(std::move(r.body)).connection_close().done();
      return restinio::request_accepted();
    }
    // RESTinio's own upgrade would keep the socket in its WebSocket layer; we hand the
    // connection's byte stream to the protocol instead, with our WebSocket framing over it.
    auto connection = std::move(restinio::impl::access_req_connection(*req));
    auto internals = dynamic_cast<restinio::impl::connection_t<Traits>&>(*connection).move_upgrade_internals();
    std::unique_ptr<transport::ByteStream> stream = internals.m_socket.core().TakeStream();
    if (!stream) return restinio::request_rejected();
    const WebSocketEndpoint& ws =
        **std::find_if(at.begin(), at.end(), [&](auto* w) { return w->protocol == accepted.value().protocol; });
    ws.serve(std::make_unique<transport::WebSocketStream>(std::move(stream), std::move(accepted.value().response)));
    return restinio::request_accepted();
  }

  void Stream(const Request& req, StreamingReply reply, bool head) {
    if (!reply.chunks || head) return Respond(req, std::move(reply.response), head);
    auto builder = req->create_response<restinio::chunked_output_t>(StatusLine(reply.response.status));
    AddHeaders(builder, reply.response);
    auto stream = std::make_shared<ChunkedStream>(io, std::move(builder), std::move(reply.chunks),
                                                  [this](ChunkedStream* ended) { Forget(ended); });
    {
      std::lock_guard lock(streams_mu);
      streams.insert(stream);
    }
    stream->Start();
  }

  void Forget(ChunkedStream* ended) {
    std::shared_ptr<ChunkedStream> last;  // freed outside the lock
    std::lock_guard lock(streams_mu);
    for (auto it = streams.begin(); it != streams.end(); ++it) {
      if (it->get() == ended) {
        last = *it;
        streams.erase(it);
        break;
      }
    }
  }

  asio::io_context& io;
  SSL_CTX* tls;
  HttpContext ctx;
  RestOptions options;
  std::vector<WebSocketEndpoint> websockets;
  asio::thread_pool handlers;
  std::mutex streams_mu;
  std::set<std::shared_ptr<ChunkedStream>> streams;  // guarded by streams_mu
  std::unique_ptr<Server> server;
};

RestServer::RestServer(asio::io_context& io, SSL_CTX* tls, HttpContext ctx, RestOptions options,
                       std::vector<WebSocketEndpoint> websockets)
    : impl_(std::make_unique<Impl>(io, tls, ctx, std::move(options), std::move(websockets))) {}

RestServer::~RestServer() { Close(); }

std::optional<std::string> RestServer::Open(const std::string& address, int port) {
  const RestOptions& o = impl_->options;
  restinio::server_settings_t<Traits> settings;
  settings.address(address)
      .port(static_cast<uint16_t>(port))
      .request_handler([impl = impl_.get()](Request req) { return impl->Handle(std::move(req)); })
      .tls_channel_context(impl_->tls)
      .tls_handshake_timeout(o.handshake_timeout)
      .read_next_http_message_timelimit(o.read_timeout)
      .write_http_response_timelimit(o.write_timeout)
      .handle_request_timeout(o.handler_timeout)
      .max_parallel_connections(o.max_connections)
      .timer_manager(std::chrono::seconds(1))
      .concurrent_accepts_count(2)
      .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                    .max_url_size(o.max_target_bytes)
                                    .max_field_name_size(o.max_header_field_bytes)
                                    .max_field_value_size(o.max_header_field_bytes)
                                    .max_field_count(o.max_header_fields)
                                    .max_body_size(o.max_body_bytes));
  try {
    impl_->server = std::make_unique<Server>(restinio::external_io_context(impl_->io), std::move(settings));
    impl_->server->open_sync();
  } catch (const std::exception& e) {
    impl_->server.reset();
    return address + ":" + std::to_string(port) + ": " + e.what();
  }
  return std::nullopt;
}

void RestServer::Close() {
  if (impl_->server) {
    try {
      impl_->server->close_sync();
    } catch (const std::exception& e) {
      spdlog::warn("Closing the HTTPS listener: {}", e.what());
    }
    impl_->server.reset();  // its sockets must go before the event loop's io_context does
  }
  impl_->handlers.stop();
  impl_->handlers.join();
  std::set<std::shared_ptr<ChunkedStream>> streams;
  {
    std::lock_guard lock(impl_->streams_mu);
    streams.swap(impl_->streams);
  }
  for (const auto& stream : streams) stream->Release();
}

}  // namespace iothub::http
