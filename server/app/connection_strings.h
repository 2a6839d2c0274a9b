// Connection strings as the Azure SDKs read them (spec §1.5).
#pragma once

#include <string>

#include "core/access_policy.h"

namespace iothub::app {

// HostName=h;SharedAccessKeyName=p;SharedAccessKey=k
std::string HubConnectionString(const std::string& host_name, const AccessPolicy& policy);

}  // namespace iothub::app
