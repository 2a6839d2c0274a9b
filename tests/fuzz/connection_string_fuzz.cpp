// Connection strings as users paste them (client library and CLI): device and hub
// forms, and the host's optional port. Parse either accepts or throws
// std::invalid_argument; what it accepts prints back to a string that parses the same.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_check.h"
#include "iothub/connection_string.h"

namespace {

using namespace iothub::client;
using iothub::fuzz::Check;

bool Same(const DeviceConnectionString& a, const DeviceConnectionString& b) {
  return a.host_name == b.host_name && a.device_id == b.device_id && a.shared_access_key == b.shared_access_key &&
         a.shared_access_key_name == b.shared_access_key_name &&
         a.shared_access_signature == b.shared_access_signature && a.gateway_host_name == b.gateway_host_name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    DeviceConnectionString cs = DeviceConnectionString::Parse(input);
    Check(!cs.host_name.empty() && !cs.device_id.empty(), "a device connection string has a host and a device");
    Check(Same(DeviceConnectionString::Parse(cs.ToString()), cs), "Parse(ToString(cs)) == cs");
    try {
      auto [host, port] = SplitHostPort(cs.host_name, 8883);
      Check(cs.host_name.starts_with(host), "the host is a prefix of HostName");
      (void)port;
    } catch (const std::invalid_argument&) {
    }
  } catch (const std::invalid_argument&) {
  }
  try {
    HubConnectionString hub = HubConnectionString::Parse(input);
    Check(!hub.host_name.empty() && !hub.shared_access_key_name.empty() && !hub.shared_access_key.empty(),
          "a hub connection string has a host, a policy and a key");
  } catch (const std::invalid_argument&) {
  }
  try {
    SplitHostPort(input, 443);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
