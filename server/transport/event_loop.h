// The one Asio event loop of the process: every listener (MQTT, HTTPS and what
// comes next) and every connection runs on its io_context, served by a few threads.
// Each connection keeps to its own strand, so the threads never share one.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace iothub::transport {

class EventLoop {
 public:
  explicit EventLoop(int threads) : threads_wanted_(threads < 1 ? 1 : threads) {}
  ~EventLoop() { Shutdown(); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  asio::io_context& io() { return *io_; }
  // Starts the threads; the loop runs until Stop() even with nothing to do.
  void Start();
  // Stops the threads and joins them; what is queued stays until Shutdown. Idempotent.
  void Stop();
  // Stops, then destroys the io_context and every handler still queued on it, and
  // with them the connections they hold: while what those use is still alive.
  // Listening sockets must be closed and freed first.
  void Shutdown();

 private:
  const int threads_wanted_;
  std::unique_ptr<asio::io_context> io_ = std::make_unique<asio::io_context>();
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace iothub::transport
