#include "transport/websocket_stream.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace iothub::transport {
namespace {

namespace ws = restinio::websocket::basic;

constexpr size_t kMaxFramePayload = 64 * 1024;
// Pongs and a close the client does not read wait in out_, behind at most one data frame;
// past this a client pinging without reading would grow it without end.
constexpr size_t kMaxUnsent = kMaxFramePayload + 16 + 4096;
// Header-only or control frames give the caller nothing: after this many inner reads in one
// call say kWantRead, so a stream of empty frames cannot hold the thread (the inner stream's
// readiness or HasBufferedInput() brings the caller back).
constexpr int kMaxReadsPerCall = 16;

// RFC 6455 7.4: the codes a peer may put on the wire; anything else is a protocol error.
bool SendableCloseStatus(unsigned status) {
  return (status >= 1000 && status <= 1014 && status != 1004 && status != 1005 && status != 1006) ||
         (status >= 3000 && status <= 4999);
}

}  // namespace

WebSocketStream::WebSocketStream(std::unique_ptr<ByteStream> inner, std::string handshake_response)
    : inner_(std::move(inner)),
      kind_(std::string("WebSocket over ") + inner_->kind()),
      out_(std::move(handshake_response)) {}

ByteStream::Io WebSocketStream::Handshake() { return Flush(); }

ByteStream::Io WebSocketStream::Read(char* data, size_t size, size_t* read) {
  *read = 0;
  if (ended_) return *ended_;
  if (size == 0) return Io::kDone;
  for (int i = 0; i < kMaxReadsPerCall; ++i) {
    size_t got = 0;
    const Io io = inner_->Read(data, size, &got);
    if (io != Io::kDone) return io;
    *read = Unframe(data, got);
    // A pong or close just queued goes now if the socket takes it; a data frame a
    // Write left staged ahead of it goes too, which that Write's retry then reports.
    if (out_sent_ < out_.size()) {
      const Io flushed = Flush();
      if ((flushed == Io::kFailed || flushed == Io::kClosed) && !ended_) ended_ = flushed;
    }
    if (*read > 0) return Io::kDone;
    if (ended_) return *ended_;
  }
  return Io::kWantRead;
}

// Parses data[0..size) in place: header bytes go to the parser, control payload to
// control_, data payload is unmasked and moved down to data[0..returned).
size_t WebSocketStream::Unframe(char* data, size_t size) {
  size_t in = 0;
  size_t out = 0;
  while (in < size && !ended_) {
    if (!parser_.header_parsed()) {
      // The parser stops at the header's last byte, so it never takes payload.
      in += parser_.parser_execute(data + in, size - in);
      if (parser_.header_parsed()) StartFrame();
      continue;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(payload_left_, size - in));
    const bool control = static_cast<unsigned>(parser_.current_message().m_opcode) >= 8;
    char* to = control ? control_.data() + control_size_ : data + out;
    std::memmove(to, data + in, n);
    Unmask(to, n);
    (control ? control_size_ : out) += n;
    in += n;
    payload_left_ -= n;
    if (payload_left_ == 0) EndFrame();
  }
  return out;
}

void WebSocketStream::StartFrame() {
  const auto& frame = parser_.current_message();
  const uint64_t length = frame.payload_len();
  const bool control = static_cast<unsigned>(frame.m_opcode) >= 8;
  if (frame.m_rsv1_flag || frame.m_rsv2_flag || frame.m_rsv3_flag) {
    return Fail(1002, "WebSocket: client frame with reserved bits set (no extension was agreed)");
  }
  if (!frame.m_mask_flag) return Fail(1002, "WebSocket: client frame not masked");
  if (length >> 63) return Fail(1002, "WebSocket: frame length with its most significant bit set");
  switch (frame.m_opcode) {
    case Opcode::text_frame:
      return Fail(1003, "WebSocket: text frame refused (MQTT over WebSockets is binary only)");
    case Opcode::continuation_frame:
      if (!in_message_) return Fail(1002, "WebSocket: continuation frame without a message to continue");
      in_message_ = !frame.m_final_flag;
      break;
    case Opcode::binary_frame:
      if (in_message_) return Fail(1002, "WebSocket: new message before the last fragment of the previous one");
      in_message_ = !frame.m_final_flag;
      break;
    case Opcode::connection_close_frame:
    case Opcode::ping_frame:
    case Opcode::pong_frame: break;
    default:
      return Fail(1002, "WebSocket: unknown opcode " + std::to_string(static_cast<unsigned>(frame.m_opcode)));
  }
  if (control && !frame.m_final_flag) return Fail(1002, "WebSocket: fragmented control frame");
  if (control && length > control_.size()) return Fail(1002, "WebSocket: control frame payload over 125 bytes");
  payload_left_ = length;
  mask_offset_ = 0;
  control_size_ = 0;
  if (payload_left_ == 0) EndFrame();
}

void WebSocketStream::EndFrame() {
  const Opcode opcode = parser_.current_message().m_opcode;
  parser_.reset();
  if (opcode == Opcode::ping_frame) {
    if (out_.size() - out_sent_ > kMaxUnsent) return Fail(1008, "WebSocket: the client pings but reads no pongs");
    QueueFrame(Opcode::pong_frame, control_.data(), control_size_);
  } else if (opcode == Opcode::connection_close_frame) {
    if (control_size_ == 1) return Fail(1002, "WebSocket: close frame with a 1-byte payload");
    unsigned status = 1000;  // no status given
    if (control_size_ >= 2) {
      status = static_cast<unsigned char>(control_[0]) << 8 | static_cast<unsigned char>(control_[1]);
      if (!SendableCloseStatus(status)) return Fail(1002, "WebSocket: invalid close status " + std::to_string(status));
    }
    QueueClose(static_cast<uint16_t>(status));
    ended_ = Io::kClosed;
  }
}

// restinio's mask_unmask_payload works on a whole std::string from the key's first
// byte; here payload is unmasked where it lies, in pieces, so the offset carries over.
void WebSocketStream::Unmask(char* data, size_t size) {
  const uint32_t key = parser_.current_message().m_masking_key;  // big-endian: first byte on top
  for (size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>(data[i] ^ static_cast<char>(key >> (24 - 8 * mask_offset_)));
    mask_offset_ = (mask_offset_ + 1) & 3;
  }
}

void WebSocketStream::Fail(uint16_t status, std::string reason) {
  error_ = std::move(reason);
  QueueClose(status);
  ended_ = Io::kFailed;
}

ByteStream::Io WebSocketStream::Write(const char* data, size_t size, size_t* written) {
  *written = 0;
  if (size == 0) return Io::kDone;
  if (staged_ == 0) {
    // After a close frame, RFC 6455 allows no more data frames.
    if (close_queued_) {
      if (error_.empty()) error_ = "WebSocket: write after the close frame";  // else keep why it closed
      return Io::kFailed;
    }
    staged_ = std::min(size, kMaxFramePayload);
    QueueFrame(Opcode::binary_frame, data, staged_);
  }
  const Io io = Flush();
  if (io != Io::kDone) return io;
  *written = std::exchange(staged_, 0);
  return Io::kDone;
}

void WebSocketStream::Close() {
  QueueClose(1000);
  Flush();
  inner_->Close();
}

// out_ holds whole frames, so appending is always at a frame boundary, even while a
// frame is half sent.
void WebSocketStream::QueueFrame(Opcode opcode, const char* payload, size_t size) {
  out_ += ws::impl::write_message_details(ws::final_frame, opcode, size);
  out_.append(payload, size);
}

void WebSocketStream::QueueClose(uint16_t status) {
  if (std::exchange(close_queued_, true)) return;
  const char payload[2] = {static_cast<char>(status >> 8), static_cast<char>(status & 0xff)};
  QueueFrame(Opcode::connection_close_frame, payload, sizeof payload);
}

ByteStream::Io WebSocketStream::Flush() {
  while (out_sent_ < out_.size()) {
    size_t n = 0;
    const Io io = inner_->Write(out_.data() + out_sent_, out_.size() - out_sent_, &n);
    if (io != Io::kDone) return io;
    if (n == 0) return Io::kWantWrite;
    out_sent_ += n;
  }
  // An idle connection holds no output buffer.
  std::string().swap(out_);
  out_sent_ = 0;
  return Io::kDone;
}

}  // namespace iothub::transport
