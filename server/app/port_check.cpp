#include "app/port_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace iothub::app {

std::optional<std::string> WhyCannotBind(const std::string& address, int port, const std::string& flag) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof *v6;
  } else {
    return "'" + address + "' is not an IP address; bind to an address such as 0.0.0.0, 127.0.0.1 or ::";
  }

  int fd = ::socket(storage.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return std::string("cannot create a socket: ") + std::strerror(errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length);
  int error = errno;
  ::close(fd);
  if (rc == 0) return std::nullopt;

  const std::string where = address + ":" + std::to_string(port);
  switch (error) {
    case EACCES: {
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      return where + " needs privileges (ports below 1024 do). Run as root, grant them once with "
                     "`sudo setcap cap_net_bind_service=+ep " + (ec ? "iothub-emulator" : self.string()) +
             "`, use the Docker image, or choose another port with " + flag + ".";
    }
    case EADDRINUSE:
      return where + " is already in use by another program (`ss -ltnp 'sport = :" + std::to_string(port) +
             "'` shows which). Stop it or choose another port with " + flag + ".";
    case EADDRNOTAVAIL:
      return where + ": " + address + " is not an address of this machine.";
    default:
      return where + ": " + std::strerror(error);
  }
}

}  // namespace iothub::app
