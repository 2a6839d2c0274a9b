#include "amqp_client.h"

#include <proton/ssl.hpp>

#include <chrono>

namespace iothub::cli {

proton::connection ConnectToHub(proton::container& c, proton::connection_options opts, const std::string& host,
                                int port, bool tls, const std::string& ca_file) {
  opts.virtual_host(host);
  if (tls) opts.ssl_client_options(proton::ssl_client_options(ca_file, proton::ssl::VERIFY_PEER_NAME));
  const std::string url = std::string(tls ? "amqps://" : "amqp://") + host + ":" + std::to_string(port);
  return c.connect(url, opts);
}

int64_t TokenExpiry() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
         3600;
}

}  // namespace iothub::cli
