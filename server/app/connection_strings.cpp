#include "app/connection_strings.h"

namespace iothub::app {

std::string HubConnectionString(const std::string& host_name, const AccessPolicy& policy) {
  return "HostName=" + host_name + ";SharedAccessKeyName=" + policy.name + ";SharedAccessKey=" + policy.primary_key;
}

}  // namespace iothub::app
