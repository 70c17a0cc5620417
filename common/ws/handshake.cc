#include "common/ws/handshake.h"

#include <openssl/evp.h>

namespace ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

void refuse(http::Responder& responder, int status, std::string_view why) {
  http::Response r = http::Response::json(status, "{\"error\":\"" + std::string(why) + "\"}\n");
  if (status == 426) {
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
  }
  r.close = true;
  responder.send(std::move(r));
}

}  // namespace

std::string acceptKey(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kGuid.size());
  input.append(key).append(kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr) != 1) {
    return {};
  }
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

bool isValidKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") {
    return false;
  }
  for (size_t i = 0; i < 22; ++i) {
    if (!isBase64Char(key[i])) {
      return false;
    }
  }
  return true;
}

bool headerHasToken(const http::HeaderList& headers, std::string_view name,
                    std::string_view token) {
  for (size_t i = 0; i < headers.size(); ++i) {
    if (!http::equalsIgnoreCase(headers.name(i), name)) {
      continue;
    }
    std::string_view value = headers.value(i);
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view item = trim(value.substr(0, comma));
      if (http::equalsIgnoreCase(item, token)) {
        return true;
      }
      value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    }
  }
  return false;
}

std::shared_ptr<Connection> accept(const http::Request& request, http::Responder responder,
                                   Options options, Handlers handlers) {
  const http::HeaderList& headers = *request.headers;
  if (request.method != HTTP_GET || !request.upgrade ||
      !headerHasToken(headers, "Upgrade", "websocket") ||
      !headerHasToken(headers, "Connection", "upgrade")) {
    refuse(responder, 400, "not a WebSocket handshake");
    return nullptr;
  }
  bool has_version = false;
  std::string_view version = trim(headers.find("Sec-WebSocket-Version", &has_version));
  if (!has_version) {
    refuse(responder, 400, "Sec-WebSocket-Version missing");
    return nullptr;
  }
  if (version != "13") {
    refuse(responder, 426, "unsupported WebSocket version");
    return nullptr;
  }
  std::string_view key = trim(headers.find("Sec-WebSocket-Key"));
  if (!isValidKey(key)) {
    refuse(responder, 400, "bad Sec-WebSocket-Key");
    return nullptr;
  }
  http::Response response;
  response.status = 101;
  response.content_type.clear();
  response.headers = {{"Upgrade", "websocket"},
                      {"Connection", "Upgrade"},
                      {"Sec-WebSocket-Accept", acceptKey(key)}};
  auto conn = std::make_shared<Connection>(options, std::move(handlers), request.client_ip);
  conn->accepting_ = true;
  responder.upgrade(std::move(response),
                    [conn](http::UpgradedStream stream) { conn->start(std::move(stream)); });
  conn->accepting_ = false;
  if (conn->state_ == Connection::State::kClosed) {
    return nullptr;  // gone before the hand-over: told no one, as promised
  }
  return conn;
}

}  // namespace ws
