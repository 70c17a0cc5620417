#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/http/header_list.h"
#include "common/http/server.h"
#include "common/ws/connection.h"

namespace ws {

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455's GUID)).
std::string acceptKey(std::string_view key);

// True when `key` is base64 for 16 bytes: 22 characters of the alphabet and "==".
bool isValidKey(std::string_view key);

// True when one of the `name` header fields holds `token` in its comma-separated list
// (case-insensitive), as in "Connection: keep-alive, Upgrade".
bool headerHasToken(const http::HeaderList& headers, std::string_view name, std::string_view token);

// Answers an opening handshake (RFC 6455 4.2) from within an http::Server handler. A valid
// one (GET, Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a
// Sec-WebSocket-Key of 16 bytes) gets 101 with Sec-WebSocket-Accept, and the connection then
// runs on the server's loop; it is returned, and no handler runs before this returns.
// Otherwise the answer is 400 (426 with Sec-WebSocket-Version: 13 for another version), or
// the client has gone, and the result is nullptr: no handler will ever run.
std::shared_ptr<Connection> accept(const http::Request& request, http::Responder responder,
                                   Options options, Handlers handlers);

}  // namespace ws
