// The server side of a WebSocket (RFC 6455) as a ByteStream over another one (TLS
// or plain TCP), for MQTT over WebSockets on port 443. The HTTP server validates
// the upgrade request and hands over the open connection with the 101 response.
//
// Read returns the payload of binary data frames as one byte stream: frame
// boundaries mean nothing to the protocol carried (a packet may span frames, a
// frame may hold several packets). Pings are answered with pongs, pongs ignored,
// the client's close answered (then kClosed). A protocol violation sends a close
// frame (1002, or 1003 for a text frame) and ends in kFailed with the reason.
// Write sends each call's bytes (up to 64 KiB of them) as one unmasked binary frame.
//
// Memory: payload is unmasked in the caller's buffer, never held here, so what a
// frame header claims costs nothing; outgoing frames wait in a buffer that is
// released once sent. Not thread-safe: one owner at a time, like every ByteStream.
#pragma once

#include <array>
#include <cstdint>
#include <memory>  // before restinio's websocket headers, which use std::shared_ptr without it
#include <optional>
#include <string>

#include <restinio/websocket/impl/ws_parser.hpp>

#include "transport/byte_stream.h"

namespace iothub::transport {

class WebSocketStream final : public ByteStream {
 public:
  // inner: already open (TLS handshaken); handshake_response: the HTTP 101 response bytes.
  WebSocketStream(std::unique_ptr<ByteStream> inner, std::string handshake_response);

  asio::any_io_executor executor() override { return inner_->executor(); }
  // Sends the 101 response: kDone once all of it went.
  Io Handshake() override;
  // Payload bytes of binary frames (kDone has *read > 0). What came before a close
  // or a violation is returned first; the next call says kClosed or kFailed.
  Io Read(char* data, size_t size, size_t* read) override;
  // One frame of data[0..L), L = min(size, 64 KiB). *written is 0 until the whole frame
  // went; after kWantWrite (kWantRead) call again with the same bytes: then *written = L.
  Io Write(const char* data, size_t size, size_t* written) override;
  bool HasBufferedInput() const override { return ended_.has_value() || inner_->HasBufferedInput(); }
  void Wait(Io want, WaitHandler then) override { inner_->Wait(want, std::move(then)); }
  // Sends a close frame (1000) if it can without waiting, then closes the inner stream.
  void Close() override;

  const std::string& error() const override { return error_.empty() ? inner_->error() : error_; }
  // "WebSocket over TLS", "WebSocket over plain TCP".
  const char* kind() const override { return kind_.c_str(); }
  const std::string& peer() const override { return inner_->peer(); }

 private:
  using Opcode = restinio::websocket::basic::opcode_t;

  size_t Unframe(char* data, size_t size);
  void StartFrame();
  void EndFrame();
  void Unmask(char* data, size_t size);
  void Fail(uint16_t status, std::string reason);
  void QueueFrame(Opcode opcode, const char* payload, size_t size);
  void QueueClose(uint16_t status);
  Io Flush();

  std::unique_ptr<ByteStream> inner_;
  std::string kind_;
  std::string error_;  // why this stream failed; empty: ask the inner stream

  // Input: the current frame's header (restinio's parser keeps it), what is left of its payload.
  restinio::websocket::basic::impl::ws_parser_t parser_;
  uint64_t payload_left_ = 0;
  unsigned mask_offset_ = 0;          // position in the 4-byte mask, carried across reads
  bool in_message_ = false;           // a fragmented binary message awaits continuations
  std::array<char, 125> control_{};  // a control frame's payload, which may come in pieces
  size_t control_size_ = 0;
  std::optional<Io> ended_;  // kClosed or kFailed, said once the payload before it is read

  // Output: whole frames (first the 101 response); out_[0..out_sent_) already went.
  std::string out_;
  size_t out_sent_ = 0;
  size_t staged_ = 0;  // caller's bytes in out_'s data frame, reported when out_ has all gone
  bool close_queued_ = false;
};

}  // namespace iothub::transport
