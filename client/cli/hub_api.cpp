#include "hub_api.h"

#include <httplib.h>

#include <chrono>

#include "core/json_parse.h"
#include "iothub/sas_token.h"

namespace iothub::cli {
namespace {

std::unique_ptr<httplib::SSLClient> MakeClient(const std::string& host, int port, const std::string& ca) {
  auto cli = std::make_unique<httplib::SSLClient>(host, port);
  if (!ca.empty()) cli->set_ca_cert_path(ca.c_str());
  cli->enable_server_certificate_verification(true);
  cli->set_connection_timeout(std::chrono::seconds(5));
  return cli;
}

// The hub's JSON answer; a body that is not JSON (or nests absurdly deep) is a failure, not a crash.
nlohmann::json ParseAnswer(const std::string& body) {
  ParsedJson parsed = ParseJson(body, kMaxJsonDepth + 8);
  if (!parsed.ok()) throw CliError(kFailed, "the hub answered with a body that is " + parsed.Describe());
  return std::move(parsed.value);
}

}  // namespace

HubApi::HubApi(client::HubConnectionString hub, std::string ca_file, int port)
    : hub_(std::move(hub)), host_(client::SplitHostPort(hub_.host_name, port).first), ca_file_(std::move(ca_file)),
      port_(client::SplitHostPort(hub_.host_name, port).second) {}

std::string HubApi::Token() const {
  auto expiry = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
  return client::MakeSasToken(hub_.host_name, hub_.shared_access_key, expiry, hub_.shared_access_key_name);
}

void HubApi::Fail(int status, const std::string& body, const std::string& what) const {
  std::string message = body;
  auto parsed = ParseJson(body).value;
  if (parsed.is_object() && parsed.contains("Message") && parsed["Message"].is_string()) {
    message = parsed["Message"].get<std::string>();  // "ErrorCode:<Name>;<text>"
    if (message.starts_with("ErrorCode:")) message = message.substr(10);
    auto semi = message.find(';');
    if (semi != std::string::npos) message = message.substr(0, semi) + ": " + message.substr(semi + 1);
  }
  ExitCode code = status == 401 ? kUnauthorized : status == 404 ? kNotFound : kFailed;
  throw CliError(code, what + " failed (HTTP " + std::to_string(status) + "): " + message);
}

static void CheckReached(const httplib::Result& res, const std::string& host, int port) {
  if (!res) {
    throw CliError(kUnreachable, "cannot reach https://" + host + ":" + std::to_string(port) + ": " +
                                     httplib::to_string(res.error()) +
                                     " (is the emulator running, and is --ca its data/certs/ca.pem?)");
  }
}

nlohmann::json HubApi::Get(const std::string& path) {
  auto res = MakeClient(host_, port_, ca_file_)->Get(path, {{"Authorization", Token()}});
  CheckReached(res, host_, port_);
  if (res->status != 200) Fail(res->status, res->body, "GET " + path);
  return ParseAnswer(res->body);
}

nlohmann::json HubApi::Put(const std::string& path, const nlohmann::json& body) {
  auto res = MakeClient(host_, port_, ca_file_)->Put(path, {{"Authorization", Token()}}, body.dump(), "application/json");
  CheckReached(res, host_, port_);
  if (res->status != 200) Fail(res->status, res->body, "PUT " + path);
  return ParseAnswer(res->body);
}

nlohmann::json HubApi::Post(const std::string& path, const nlohmann::json& body) {
  auto cli = MakeClient(host_, port_, ca_file_);
  cli->set_read_timeout(std::chrono::seconds(620));  // a direct method may wait up to 600 s
  auto res = cli->Post(path, {{"Authorization", Token()}}, body.dump(), "application/json");
  CheckReached(res, host_, port_);
  if (res->status != 200) Fail(res->status, res->body, "POST " + path);
  return ParseAnswer(res->body);
}

nlohmann::json HubApi::Patch(const std::string& path, const nlohmann::json& body) {
  auto res = MakeClient(host_, port_, ca_file_)->Patch(path, {{"Authorization", Token()}, {"If-Match", "*"}}, body.dump(),
                                                       "application/json");
  CheckReached(res, host_, port_);
  if (res->status != 200) Fail(res->status, res->body, "PATCH " + path);
  return ParseAnswer(res->body);
}

nlohmann::json HubApi::DeleteJson(const std::string& path) {
  auto res = MakeClient(host_, port_, ca_file_)->Delete(path, {{"Authorization", Token()}});
  CheckReached(res, host_, port_);
  if (res->status != 200) Fail(res->status, res->body, "DELETE " + path);
  return ParseAnswer(res->body);
}

void HubApi::Delete(const std::string& path) {
  auto res = MakeClient(host_, port_, ca_file_)->Delete(path, {{"Authorization", Token()}, {"If-Match", "*"}});
  CheckReached(res, host_, port_);
  if (res->status != 204 && res->status != 200) Fail(res->status, res->body, "DELETE " + path);
}

void HubApi::Stream(const std::string& path, const std::function<bool(const nlohmann::json&)>& on_event,
                    int timeout_seconds) {
  auto cli = MakeClient(host_, port_, ca_file_);
  auto deadline = timeout_seconds > 0 ? std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds)
                                      : std::chrono::steady_clock::time_point::max();
  // The stream sends a keep-alive every 2 s: five missed means the hub is gone.
  cli->set_read_timeout(std::chrono::seconds(10));
  std::string buffer, error_body;
  int status = 0;
  bool stopped = false;
  auto res = cli->Get(
      path, {{"Authorization", Token()}},
      [&](const httplib::Response& response) {
        status = response.status;
        return true;
      },
      [&](const char* data, size_t n) {
        if (status != 200) {
          error_body.append(data, n);
          return true;
        }
        buffer.append(data, n);
        size_t end;
        while ((end = buffer.find("\n\n")) != std::string::npos) {
          std::string block = buffer.substr(0, end);
          buffer.erase(0, end + 2);
          size_t at = block.find("data: ");
          if (at == std::string::npos) continue;  // a comment (keep-alive)
          size_t eol = block.find('\n', at);
          // An event nests its body one level down: the hub's bound plus a few.
          ParsedJson event = ParseJson(block.substr(at + 6, eol == std::string::npos ? eol : eol - at - 6), kMaxJsonDepth + 8);
          if (!event.ok()) continue;
          if (!on_event(event.value)) {
            stopped = true;
            return false;
          }
        }
        return std::chrono::steady_clock::now() < deadline;
      });
  if (stopped || (status == 200 && std::chrono::steady_clock::now() >= deadline)) return;
  if (status != 0 && status != 200) Fail(status, error_body, "GET " + path);
  // The stream never ends by itself: before --timeout or -n, its end means the hub went away.
  if (status == 200) {
    throw CliError(kUnreachable, "the event stream from https://" + host_ + ":" + std::to_string(port_) + " ended: " +
                                     (res ? std::string("closed by the hub") : httplib::to_string(res.error())) +
                                     " (did the emulator stop?)");
  }
  CheckReached(res, host_, port_);
}

}  // namespace iothub::cli
