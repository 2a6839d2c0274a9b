// The CLI's way to the hub's REST API: HTTPS with the emulator's CA, a SAS token
// from the hub connection string, and IoT Hub's errors turned into exit codes.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "iothub/connection_string.h"

namespace iothub::cli {

// Exit codes, documented in `iothub --help` and the README.
enum ExitCode { kOk = 0, kUsage = 1, kUnreachable = 2, kUnauthorized = 3, kNotFound = 4, kFailed = 5 };

struct CliError : std::runtime_error {
  CliError(ExitCode code, const std::string& what) : std::runtime_error(what), code(code) {}
  ExitCode code;
};

class HubApi {
 public:
  HubApi(client::HubConnectionString hub, std::string ca_file, int port);

  nlohmann::json Get(const std::string& path);
  nlohmann::json Put(const std::string& path, const nlohmann::json& body);
  nlohmann::json Post(const std::string& path, const nlohmann::json& body);
  nlohmann::json Patch(const std::string& path, const nlohmann::json& body);
  // DELETE that answers with a JSON body (purge).
  nlohmann::json DeleteJson(const std::string& path);
  void Delete(const std::string& path);
  // Reads Server-Sent Events; on_event gets each `data:` JSON and returns false to stop.
  void Stream(const std::string& path, const std::function<bool(const nlohmann::json&)>& on_event,
              int timeout_seconds);

  const client::HubConnectionString& hub() const { return hub_; }

 private:
  std::string Token() const;
  [[noreturn]] void Fail(int status, const std::string& body, const std::string& what) const;

  client::HubConnectionString hub_;
  std::string host_;
  std::string ca_file_;
  int port_;
};

}  // namespace iothub::cli
