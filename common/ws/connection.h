#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/output_queue.h"
#include "common/http/server.h"
#include "common/util/units.h"
#include "common/ws/frame.h"

namespace ws {

struct Options {
  // A whole message, after reassembly of its fragments; beyond it: close 1009.
  size_t max_message_size = 64 * 1024;
  // After this long without a byte from the peer, a ping; zero turns keep-alive off.
  util::Millis ping_interval{30000};
  // After that ping, this long without a byte (pong or other): the TCP connection is dropped.
  util::Millis pong_timeout{10000};
  // How long a close handshake may take: waiting for the peer's close frame after ours, then
  // for its FIN after the last frame.
  util::Millis close_timeout{5000};
};

struct Handlers {
  // A whole message, kText (valid UTF-8) or kBinary. The payload is valid during the call only.
  std::function<void(Opcode opcode, std::string_view payload)> on_message;
  // Once, after the TCP connection is closed. `code` is the peer's close code (1005 if its
  // close frame had none), else the one we sent, else 1006 (dropped without a close frame).
  std::function<void(uint16_t code, std::string_view reason)> on_close;
  // Optional: bufferedAmount() fell to OutputQueue::kLowWater after writes had queued up.
  std::function<void()> on_drain;
};

// A server-side WebSocket connection (RFC 6455) on the loop of the http::Server that accepted
// it, made by ws::accept. It keeps itself alive until its socket is closed, so the owner may
// hold it by a shared pointer (a map of subscribers, say) or not at all; no callback runs
// after on_close. Not thread-safe: call it on its loop only.
//
// Protocol handling: client frames must be masked; reserved bits, reserved opcodes and
// malformed control frames fail the connection with 1002, invalid UTF-8 text with 1007, a
// message over max_message_size with 1009. Fragments are reassembled (control frames may come
// between them), pings are answered with pongs, a close frame is echoed, and the TCP
// connection is closed by us once the close handshake is done (RFC 6455 7.1.1).
class Connection final : public http::OutputListener,
                         public http::ServerCloseListener,
                         public std::enable_shared_from_this<Connection> {
 public:
  // Use ws::accept.
  Connection(Options options, Handlers handlers, std::string_view client_ip);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Each sends one whole message and returns true, or returns false and sends nothing when the
  // connection is not open (closing or closed). The bytes are copied if the kernel does not
  // take them at once; watch bufferedAmount() for slow readers. sendText does not check UTF-8.
  bool sendText(std::string_view text);
  bool sendBinary(std::string_view data);
  // At most 125 bytes of payload.
  bool ping(std::string_view payload = {});
  // Starts the close handshake: sends a close frame (`code` must be sendable, see
  // isSendableCloseCode; the reason is cut to fit), then waits up to close_timeout for the
  // peer's before closing the socket. Does nothing unless open.
  void close(uint16_t code = kCloseNormal, std::string_view reason = {});

  bool isOpen() const { return state_ == State::kOpen; }
  // Bytes written but not yet taken by the kernel.
  size_t bufferedAmount() const;
  std::string_view clientIp() const { return client_ip_; }

  // A slot for the owner's per-connection state.
  void setUserData(std::shared_ptr<void> data) { user_data_ = std::move(data); }
  const std::shared_ptr<void>& userData() const { return user_data_; }

  void onOutputDrained() override;
  void onOutputError(int status) override;
  void onServerClose() override;

 private:
  friend std::shared_ptr<Connection> accept(const http::Request&, http::Responder, Options,
                                            Handlers);
  enum class State {
    kConnecting,  // 101 being written
    kOpen,
    kClosing,    // our close frame sent; waiting for the peer's
    kLingering,  // close handshake over (or failed): FIN sent, reading until the peer's FIN
    kClosed,     // handles closing
  };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);

  // Takes the socket from the http::Server; an empty stream means the client left.
  void start(http::UpgradedStream stream);
  void processInput();
  // Handles one whole frame; its payload is unmasked. Returns false to stop reading frames.
  bool handleFrame(const FrameHeader& header, std::string_view payload);
  void deliver(Opcode opcode, std::string_view payload);
  bool sendFrame(Opcode opcode, std::string_view payload);
  void sendClose(uint16_t code, std::string_view reason);
  // Sends a close frame with `code` (if none was sent) and closes without waiting for the
  // peer's (RFC 6455 7.1.7).
  void fail(uint16_t code, std::string_view reason);
  void linger();
  void closeHandles(std::string_view reason);
  void keepAlive();
  void updateReading();
  void startTimer(util::Millis timeout);
  void reportClosed();

  Options options_;
  Handlers handlers_;
  std::string client_ip_;
  std::shared_ptr<Connection> self_;  // while the handles are open
  std::shared_ptr<void> user_data_;
  uv_tcp_t* tcp_ = nullptr;  // from the http::Server; deleted in its close callback
  uv_timer_t timer_;         // keep-alive, then the close handshake's deadline
  std::unique_ptr<http::OutputQueue> out_;
  State state_ = State::kConnecting;
  std::string input_;    // bytes read and not yet a whole frame
  std::string message_;  // fragments of the message being reassembled
  Opcode message_opcode_ = Opcode::kText;
  bool in_message_ = false;
  bool heard_ = false;          // a byte arrived since the last keep-alive check
  bool ping_pending_ = false;   // the keep-alive ping is out, no byte came back yet
  bool input_pending_ = false;  // bytes read with the request head wait for the first turn
  bool reading_ = false;
  bool accepting_ = false;  // inside ws::accept: on_close would come too early
  bool sent_close_ = false;
  bool received_close_ = false;
  uint16_t close_code_ = kCloseAbnormal;
  std::string close_reason_;
  int open_handles_ = 0;
};

}  // namespace ws
