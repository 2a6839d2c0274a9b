// Azure IoT Hub connection strings, parsed as the official SDKs parse them:
// `;`-separated `Key=Value` pairs, split at the first `=`, keys case-sensitive.
#pragma once

#include <optional>
#include <string>

namespace iothub::client {

// HostName=h;DeviceId=d;SharedAccessKey=k  (or SharedAccessKeyName=policy;SharedAccessKey=k,
// or SharedAccessSignature=SharedAccessSignature sr=...), optionally GatewayHostName=g.
struct DeviceConnectionString {
  std::string host_name;  // may carry a port: "localhost:8883"
  std::string device_id;
  std::optional<std::string> shared_access_key;
  std::optional<std::string> shared_access_key_name;
  std::optional<std::string> shared_access_signature;
  std::optional<std::string> gateway_host_name;  // where to connect, when not HostName

  // Throws std::invalid_argument naming what is missing or wrong.
  static DeviceConnectionString Parse(const std::string& text);
  std::string ToString() const;
};

// HostName=h;SharedAccessKeyName=policy;SharedAccessKey=k
struct HubConnectionString {
  std::string host_name;
  std::string shared_access_key_name;
  std::string shared_access_key;

  static HubConnectionString Parse(const std::string& text);
};

// "localhost:8883" -> {"localhost", 8883}; no port -> {host, default_port}.
std::pair<std::string, int> SplitHostPort(const std::string& host, int default_port);

}  // namespace iothub::client
