// A connection's bytes, whatever carries them: a TCP socket, TLS over one, and
// (next) WebSocket frames over either. Readiness-driven: Read and Write never
// block; they say what they need, and Wait calls back once it may be there.
// A stream keeps no read buffer of its own, so an idle connection costs little.
// Not thread-safe: one owner (the connection's strand) at a time.
#pragma once

#include <asio/any_io_executor.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <system_error>

namespace iothub::transport {

class ByteStream {
 public:
  enum class Io {
    kDone,       // the call did its work (or part of it, see the byte count)
    kWantRead,   // call again after Wait(kWantRead)
    kWantWrite,  // call again after Wait(kWantWrite)
    kClosed,     // the peer ended the stream
    kFailed,     // a transport error; see error()
  };
  // An error ends the wait (asio::error::operation_aborted once the stream is closed).
  using WaitHandler = std::function<void(const std::error_code&)>;

  virtual ~ByteStream() = default;

  // Where waits complete: the connection's strand.
  virtual asio::any_io_executor executor() = 0;
  // Finishes opening the stream (the TLS handshake); kDone at once when there is nothing to do.
  virtual Io Handshake() = 0;
  virtual Io Read(char* data, size_t size, size_t* read) = 0;
  virtual Io Write(const char* data, size_t size, size_t* written) = 0;
  // Input already taken from below and waiting: Read it without waiting first.
  virtual bool HasBufferedInput() const = 0;
  // Calls `then` on executor() once the stream may progress on `want` (kWantRead or kWantWrite).
  // A read wait and a write wait may be pending at once.
  virtual void Wait(Io want, WaitHandler then) = 0;
  // Ends the stream now (TLS sends close_notify if it can without waiting); pending waits end with an error.
  virtual void Close() = 0;

  // Why the last call said kFailed.
  virtual const std::string& error() const = 0;
  // For logs: "TLS", "plain TCP", ...; and the peer's address and port.
  virtual const char* kind() const = 0;
  virtual const std::string& peer() const = 0;
};

}  // namespace iothub::transport
