#include "http/https_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "http/error_response.h"
#include "http/handlers.h"
#include "tls/server_context.h"

namespace iothub::http {
namespace {

enum class Method { kGet, kPut, kPost, kPatch, kDelete };

struct Route {
  Method method;
  const char* pattern;  // regex over the decoded path; groups land in req.matches
  HandlerFn handler;
};

// The REST API, spec §4.2. Any api-version is accepted.
const Route kRoutes[] = {
    {Method::kGet, "/health", GetHealth},
    {Method::kGet, "/devices", ListDevices},
    {Method::kPost, "/devices", BulkDevices},
    {Method::kPut, "/devices/([^/]+)", PutDevice},
    {Method::kGet, "/devices/([^/]+)", GetDevice},
    {Method::kDelete, "/devices/([^/]+)", DeleteDevice},
    {Method::kGet, "/twins/([^/]+)", GetTwin},
    {Method::kPatch, "/twins/([^/]+)", PatchTwin},
    {Method::kPut, "/twins/([^/]+)", ReplaceTwin},
    {Method::kPost, "/twins/([^/]+)/methods", InvokeMethod},
    {Method::kDelete, "/devices/([^/]+)/commands", PurgeCloudToDevice},
    {Method::kGet, "/statistics/devices", GetDeviceStatistics},
    {Method::kGet, "/statistics/service", GetServiceStatistics},
    // Emulator-only endpoints live under /emulator/, apart from IoT Hub's own API.
    {Method::kGet, "/emulator/events", ListEvents},
    {Method::kGet, "/emulator/events/stream", StreamEvents},
    {Method::kPost, "/emulator/devices/([^/]+)/messages", SendCloudToDevice},
};

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

  for (const Route& route : kRoutes) {
    // The SDKs write some paths with a trailing slash (Registry.list: "/devices/").
    const std::string pattern = std::string(route.pattern) + "/?";
    auto handler = [this, fn = route.handler](const httplib::Request& req, httplib::Response& res) {
      fn(ctx_, req, res);
    };
    switch (route.method) {
      case Method::kGet: server_->Get(pattern, handler); break;
      case Method::kPut: server_->Put(pattern, handler); break;
      case Method::kPost: server_->Post(pattern, handler); break;
      case Method::kPatch: server_->Patch(pattern, handler); break;
      case Method::kDelete: server_->Delete(pattern, handler); break;
    }
  }

  // Failures httplib decides itself (no route, body too large) get IoT Hub's body too.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      WriteError(res, {ErrorCode::kMessageTooLarge,
                       "The request body is larger than " + std::to_string(kMaxBodyBytes) + " bytes"});
    } else if (res.status == 404) {
      WriteError(res, {ErrorCode::kResourceNotFound, "No operation " + req.method + " " + req.path});
    } else if (res.status == 400) {
      WriteError(res, Status::ArgumentInvalid("Malformed HTTP request"));
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
    spdlog::error("{} {} failed: {}", req.method, req.path, what);
    WriteError(res, Status::ServerError("The emulator failed to handle the request: " + what));
  });
  server_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("HTTPS {} {} -> {}", req.method, req.path, res.status);
  });
}

HttpsServer::~HttpsServer() = default;

bool HttpsServer::Bind(const std::string& address, int port) { return server_->bind_to_port(address, port); }

void HttpsServer::Run() { server_->listen_after_bind(); }

void HttpsServer::Stop() { server_->stop(); }

}  // namespace iothub::http
