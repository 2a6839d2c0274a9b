// What the HTTP handlers reach: the domain services, nothing of the wire.
#pragma once

#include "core/registry.h"
#include "core/sas_authenticator.h"

namespace iothub::http {

struct HttpContext {
  Registry& registry;
  const SasAuthenticator& authenticator;
};

}  // namespace iothub::http
