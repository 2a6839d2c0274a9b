#include "core/access_policy.h"

namespace iothub {

std::string DescribePermissions(Permissions permissions) {
  static const std::pair<Permission, const char*> kNames[] = {{kRegistryRead, "RegistryRead"},
                                                              {kRegistryWrite, "RegistryWrite"},
                                                              {kServiceConnect, "ServiceConnect"},
                                                              {kDeviceConnect, "DeviceConnect"}};
  std::string out;
  for (auto [bit, name] : kNames) {
    if (permissions & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out.empty() ? "none" : out;
}

AccessPolicies AccessPolicies::Defaults() {
  // Keep in sync with the README's "Development credentials" table.
  AccessPolicies p;
  p.policies_ = {
      {"iothubowner", "7r3KxkLA5oZr/fN2IcckoG1ybGiApgGjvQKk5btv0Zc=", "X7/lzhiJb8Xlx7YE6sn0cwaKBwN+ZvClnd18ZjNdgn0=",
       kRegistryRead | kRegistryWrite | kServiceConnect | kDeviceConnect},
      {"service", "kif8csu1RvNjpgNgk7Wx+OVv6S1Jw2wQ2/7O8s3lxUo=", "QfTCva8zbvEnQAvnkw4Dns4V3G78sJp6lwiti9WY1J8=",
       kServiceConnect},
      {"device", "kMV6vdJRIMnwaA8ZeMlGmjphOCm7oHAMyKDqWtmmJn0=", "cxl2ounwEDzAXhTRLCAymOdz5TP7LNJKQ94hpUJVsJs=",
       kDeviceConnect},
      {"registryRead", "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=", "1NwSAeGrYZYtA/rU90JFDFy5z+ZAqsDLWflA/irguWU=",
       kRegistryRead},
      {"registryReadWrite", "9l2AAH9GSx29Ecpw5xA34nb928rIY4gAtS7g5lHH6qg=",
       "wBz2C/oBBuvawQxXIdOE1BTN9jA1ol89Y15FDeJzx18=", kRegistryRead | kRegistryWrite},
  };
  return p;
}

const AccessPolicy* AccessPolicies::Find(std::string_view name) const {
  for (const auto& policy : policies_) {
    if (policy.name == name) return &policy;
  }
  return nullptr;
}

bool AccessPolicies::SetPrimaryKey(std::string_view name, std::string key) {
  for (auto& policy : policies_) {
    if (policy.name == name) {
      policy.primary_key = std::move(key);
      return true;
    }
  }
  return false;
}

}  // namespace iothub
