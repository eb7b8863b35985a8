// free_port: a TCP port of this machine that was free a moment ago, as torchrun --standalone picks one.
#pragma once

#include <optional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace torchtrain_launch {

/// The port the kernel gives a loopback socket bound to port 0, closed again; nullopt
/// (errno says why) if there is none. Another process may take it before it is used:
/// only for runs on one machine, where a failed rendezvous can simply be retried.
inline std::optional<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) return std::nullopt;
  return ntohs(address.sin_port);
}

}  // namespace torchtrain_launch
