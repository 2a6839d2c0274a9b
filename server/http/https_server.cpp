// The adapter between cpp-httplib and the REST handlers: the only file in http/
// that sees the library. It turns httplib's request into an HttpRequest, routes
// it with our router (over the raw target, see router.h), and writes the answer.
#include "http/https_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <future>

#include "http/error_response.h"
#include "http/query_string.h"
#include "http/routes.h"
#include "tls/server_context.h"

namespace iothub::http {
namespace {

// The request target up to '?': httplib's req.path is already percent-decoded,
// and routing on it would split an id at an encoded '/'.
std::string_view RawPath(const std::string& target) {
  return std::string_view(target).substr(0, target.find('?'));
}

std::string_view RawQuery(const std::string& target) {
  const size_t question = target.find('?');
  return question == std::string::npos ? std::string_view() : std::string_view(target).substr(question + 1);
}

HttpRequest ToHttpRequest(const httplib::Request& req, RouteParams params) {
  HttpRequest out;
  out.method = req.method;
  out.path = std::string(RawPath(req.target));
  out.route_params = std::move(params);
  out.query = ParseQueryString(RawQuery(req.target));
  for (const auto& [name, value] : req.headers) {
    // httplib files the peer's address among the headers; it is not one the client sent.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" || name == "LOCAL_PORT") continue;
    out.headers.Add(name, value);
  }
  out.body = req.body;
  out.remote_address = req.remote_addr;
  return out;
}

void Write(httplib::Response& res, HttpResponse&& answer) {
  res.status = answer.status;
  for (const auto& [name, value] : answer.headers.fields()) res.set_header(name, value);
  if (!answer.content_type.empty()) res.set_header("Content-Type", answer.content_type);
  res.body = std::move(answer.body);
}

void Stream(httplib::Response& res, StreamingReply&& reply) {
  if (!reply.chunks) return Write(res, std::move(reply.response));
  res.status = reply.response.status;
  for (const auto& [name, value] : reply.response.headers.fields()) res.set_header(name, value);
  // httplib destroys the provider, and with it the source, when the response is done.
  std::shared_ptr<ChunkSource> source = std::move(reply.chunks);
  res.set_chunked_content_provider(reply.response.content_type, [source](size_t, httplib::DataSink& sink) {
    // The blocking shim for httplib, until the event-loop server replaces it: the
    // provider runs on a worker thread that may wait, so it waits here for WhenReady.
    // The source calls back within its heartbeat; the bound only guards a lost wake-up.
    std::string_view chunk = source->TryNext();
    while (chunk.empty()) {
      auto ready = std::make_shared<std::promise<void>>();  // shared: it may be set after this returns
      auto woken = ready->get_future();
      source->WhenReady([ready] { ready->set_value(); });
      if (woken.wait_for(std::chrono::seconds(10)) != std::future_status::ready && !sink.is_writable()) return false;
      chunk = source->TryNext();
    }
    return sink.write(chunk.data(), chunk.size()) && sink.is_writable();
  });
}

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

void Serve(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  // HTTP/1.1 makes Host mandatory and says to refuse a request without it (RFC 9112 §3.2).
  if (req.version == "HTTP/1.1" && !req.has_header("Host")) {
    return Write(res, ErrorResponse(Status::ArgumentInvalid("The Host header is missing")));
  }
  // HEAD is GET without the body, which httplib leaves out.
  auto routed = RouteApiRequest(req.method == "HEAD" ? "GET" : req.method, RawPath(req.target));
  if (!routed.ok()) return Write(res, ErrorResponse(routed.status()));
  RoutedRequest route = std::move(routed).value();
  const HttpRequest request = ToHttpRequest(req, std::move(route.params));
  std::visit(Overloaded{
                 [&](PlainHandler handler) { Write(res, handler(ctx, request)); },
                 [&](AsyncHandler handler) {
                   // httplib's handlers are blocking, so this worker waits for the answer.
                   auto answer = std::make_shared<std::promise<HttpResponse>>();
                   auto answered = answer->get_future();
                   handler(ctx, request, [answer](HttpResponse r) { answer->set_value(std::move(r)); });
                   Write(res, answered.get());
                 },
                 [&](StreamingHandler handler) { Stream(res, handler(ctx, request)); },
             },
             route.handler);
}

}  // namespace

HttpsServer::HttpsServer(const tls::TlsMaterial& tls, HttpContext ctx, size_t worker_threads) : ctx_(ctx) {
  server_ = std::make_unique<httplib::SSLServer>(
      [&tls](SSL_CTX& ssl_ctx) { return tls::ConfigureServerContext(ssl_ctx, tls); });
  if (!server_->is_valid()) throw std::runtime_error("the TLS certificate or key could not be loaded");

  // httplib's default pool is fixed inside the library; long requests would starve it.
  server_->new_task_queue = [worker_threads] { return new httplib::ThreadPool(worker_threads); };
  server_->set_payload_max_length(kMaxBodyBytes);
  // httplib finishes an idle keep-alive wait before a worker sees Stop(), so this
  // bounds how long shutdown takes while clients hold connections open.
  server_->set_keep_alive_timeout(kKeepAliveSeconds);

  // Every request reaches Serve, which routes it (routes.cpp); httplib's own routing only
  // reads the body first. [\s\S]: '.' would not match a decoded "%0A" in the path.
  auto serve = [this](const httplib::Request& req, httplib::Response& res) { Serve(ctx_, req, res); };
  const std::string kAnyPath = R"([\s\S]*)";
  server_->Get(kAnyPath, serve);  // and HEAD
  server_->Put(kAnyPath, serve);
  server_->Post(kAnyPath, serve);
  server_->Patch(kAnyPath, serve);
  server_->Delete(kAnyPath, serve);

  // Failures httplib decides itself (unknown method, body too large) get IoT Hub's body too.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      Write(res, ErrorResponse({ErrorCode::kMessageTooLarge,
                                "The request body is larger than " + std::to_string(kMaxBodyBytes) + " bytes"}));
    } else if (res.status == 404) {
      Write(res, ErrorResponse({ErrorCode::kResourceNotFound, "No operation " + req.method + " " + req.target}));
    } else if (res.status == 400) {
      Write(res, ErrorResponse(Status::ArgumentInvalid("Malformed HTTP request")));
    } else {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{} {} failed: {}", req.method, req.target, what);
    Write(res, ErrorResponse(Status::ServerError("The emulator failed to handle the request: " + what)));
  });
  server_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("HTTPS {} {} -> {}", req.method, req.target, res.status);
  });
}

HttpsServer::~HttpsServer() = default;

bool HttpsServer::Bind(const std::string& address, int port) { return server_->bind_to_port(address, port); }

void HttpsServer::Run() { server_->listen_after_bind(); }

void HttpsServer::Stop() { server_->stop(); }

}  // namespace iothub::http
