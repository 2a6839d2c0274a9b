#include "iothub/connection_string.h"

#include <map>
#include <stdexcept>

namespace iothub::client {
namespace {

// As azure-iot-common's dictionary: split on ';', each at its first '=', empty parts ignored, last key wins.
std::map<std::string, std::string> Split(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    size_t eq = part.find('=');
    if (eq != std::string::npos && eq > 0 && eq + 1 < part.size()) out[part.substr(0, eq)] = part.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

std::optional<std::string> Get(const std::map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::string Require(const std::map<std::string, std::string>& m, const char* key, const char* kind) {
  auto v = Get(m, key);
  if (!v) throw std::invalid_argument(std::string("the ") + kind + " connection string has no " + key);
  return *v;
}

}  // namespace

DeviceConnectionString DeviceConnectionString::Parse(const std::string& text) {
  auto m = Split(text);
  DeviceConnectionString cs;
  cs.host_name = Require(m, "HostName", "device");
  cs.device_id = Require(m, "DeviceId", "device");
  cs.shared_access_key = Get(m, "SharedAccessKey");
  cs.shared_access_key_name = Get(m, "SharedAccessKeyName");
  cs.shared_access_signature = Get(m, "SharedAccessSignature");
  cs.gateway_host_name = Get(m, "GatewayHostName");
  if (!cs.shared_access_key && !cs.shared_access_signature) {
    throw std::invalid_argument("the device connection string needs SharedAccessKey or SharedAccessSignature");
  }
  return cs;
}

std::string DeviceConnectionString::ToString() const {
  std::string s = "HostName=" + host_name + ";DeviceId=" + device_id;
  if (shared_access_key_name) s += ";SharedAccessKeyName=" + *shared_access_key_name;
  if (shared_access_key) s += ";SharedAccessKey=" + *shared_access_key;
  if (shared_access_signature) s += ";SharedAccessSignature=" + *shared_access_signature;
  if (gateway_host_name) s += ";GatewayHostName=" + *gateway_host_name;
  return s;
}

HubConnectionString HubConnectionString::Parse(const std::string& text) {
  auto m = Split(text);
  return {Require(m, "HostName", "hub"), Require(m, "SharedAccessKeyName", "hub"), Require(m, "SharedAccessKey", "hub")};
}

std::pair<std::string, int> SplitHostPort(const std::string& host, int default_port) {
  size_t colon = host.rfind(':');
  if (colon == std::string::npos || host.find(':') != colon) return {host, default_port};  // none, or bare IPv6
  try {
    return {host.substr(0, colon), std::stoi(host.substr(colon + 1))};
  } catch (const std::exception&) {
    throw std::invalid_argument("'" + host + "' has an invalid port");
  }
}

}  // namespace iothub::client
