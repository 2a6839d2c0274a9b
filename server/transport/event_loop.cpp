#include "transport/event_loop.h"

namespace iothub::transport {

void EventLoop::Start() {
  if (!threads_.empty()) return;
  work_.emplace(io_->get_executor());
  for (int i = 0; i < threads_wanted_; ++i) threads_.emplace_back([this] { io_->run(); });
}

void EventLoop::Stop() {
  if (threads_.empty()) return;
  work_.reset();
  io_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void EventLoop::Shutdown() {
  Stop();
  io_.reset();
}

}  // namespace iothub::transport
