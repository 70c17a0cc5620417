#include "balancer/admin/admin_server.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "balancer/control/control.h"
#include "balancer/snapshot.h"
#include "balancer/status/status_page.h"
#include "common/http/query.h"
#include "common/metrics/exposition.h"

namespace balancer {

namespace {

http::Response error(int status, const std::string& message) {
  return http::Response::json(status, nlohmann::json{{"error", message}}.dump());
}

http::Response methodNotAllowed(const char* allow) {
  http::Response r = error(405, "method not allowed");
  r.headers.emplace_back("Allow", allow);
  return r;
}

// Splits "/a/b/c" into {"a","b","c"}.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    out.push_back(path.substr(i, end - i));
    i = end;
  }
  return out;
}

// Reads {"weight": N} (and "address" when `address` is set) from a request body. Returns an
// empty string, or why the body is not acceptable.
std::string parseBody(const std::string& body, std::string* address, int* weight,
                      bool weight_required) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return "the body is not JSON";
  }
  if (!j.is_object()) {
    return "the body must be a JSON object";
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "weight" && (address == nullptr || key != "address")) {
      return "unknown field '" + key + "'";
    }
  }
  if (address != nullptr) {
    if (!j.contains("address") || !j["address"].is_string()) {
      return "address must be a string \"host:port\"";
    }
    *address = j["address"].get<std::string>();
  }
  if (j.contains("weight")) {
    const auto& w = j["weight"];
    if (!w.is_number_integer() || w.get<int64_t>() < 1 || w.get<int64_t>() > 1000) {
      return "weight must be an integer from 1 to 1000";
    }
    *weight = static_cast<int>(w.get<int64_t>());
  } else if (weight_required) {
    return "weight is required";
  }
  return "";
}

// What POST /cache/purge removes.
struct PurgeRequest {
  std::string path;
  bool prefix = false;
  std::optional<std::string> host;
};

// Reads {"path": "/...", "prefix": bool, "host": "..."} ("path" required). Returns an empty
// string, or why the body is not acceptable.
std::string parsePurge(const std::string& body, PurgeRequest* out) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return "the body is not JSON";
  }
  if (!j.is_object()) {
    return "the body must be a JSON object";
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "path" && key != "prefix" && key != "host") {
      return "unknown field '" + key + "'";
    }
  }
  if (!j.contains("path") || !j["path"].is_string() ||
      j["path"].get<std::string>().rfind('/', 0) != 0) {
    return "path must be a string starting with '/'";
  }
  out->path = j["path"].get<std::string>();
  if (j.contains("prefix")) {
    if (!j["prefix"].is_boolean()) {
      return "prefix must be true or false";
    }
    out->prefix = j["prefix"].get<bool>();
  }
  if (j.contains("host")) {
    if (!j["host"].is_string() || j["host"].get<std::string>().empty()) {
      return "host must be a non-empty string";
    }
    out->host = j["host"].get<std::string>();
  }
  return "";
}

// 'sha256-BASE64' of `text`, as a Content-Security-Policy source.
std::string hashSource(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  unsigned char base64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int n = EVP_EncodeBlock(base64, digest, static_cast<int>(length));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(base64), static_cast<size_t>(n)) +
         "'";
}

// The text between `open` and `close` in `html`.
std::string_view between(std::string_view html, std::string_view open, std::string_view close) {
  size_t start = html.find(open);
  if (start == std::string_view::npos) {
    return {};
  }
  start += open.size();
  size_t end = html.find(close, start);
  return end == std::string_view::npos ? std::string_view() : html.substr(start, end - start);
}

// Nothing but the page's own inline script and style (by hash), and requests to this origin:
// an injected script or a frame around the page does not run.
std::string pagePolicy(std::string_view html) {
  return "default-src 'none'; script-src " + hashSource(between(html, "<script>", "</script>")) +
         "; style-src " + hashSource(between(html, "<style>", "</style>")) +
         "; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
         "frame-ancestors 'none'";
}

http::Response fromOutcome(const Control::Outcome& outcome) {
  if (!outcome.error.empty()) {
    return error(outcome.status, outcome.error);
  }
  return http::Response::json(outcome.status, R"({"status":"ok"})");
}

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, Control* control, AdminAccess access,
                         std::function<std::string()> render_metrics)
    : control_(control),
      access_(std::move(access)),
      page_policy_(pagePolicy(statusPageHtml())),
      render_metrics_(std::move(render_metrics)) {
  http::ServerOptions options;
  options.limits.max_body_size = 64 * 1024;
  server_ = std::make_unique<http::Server>(
      loop,
      [this](const http::Request& req, http::Responder responder) { responder.send(handle(req)); },
      options);
}

AdminServer::~AdminServer() = default;

int AdminServer::listen(const util::SocketAddress& address) { return server_->listen(address); }

void AdminServer::close() { server_->close(); }

std::string AdminServer::basicMetrics(const Snapshot& snapshot) {
  metrics::Exposition out;
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const Backend&);
  };
  static const Family kFamilies[] = {
      {"balancer_upstream_backend_up", "gauge",
       "1 when a backend may get requests (healthy, not draining, not ejected), else 0.",
       [](const Backend& b) { return b.usable() ? 1.0 : 0.0; }},
      {"balancer_upstream_in_flight", "gauge",
       "Requests sent to a backend and not yet answered, over all workers.",
       [](const Backend& b) { return static_cast<double>(b.inFlight()); }},
      {"balancer_upstream_ejections_total", "counter",
       "Times a backend was ejected by outlier detection.",
       [](const Backend& b) { return static_cast<double>(b.ejections.load()); }},
  };
  for (const Family& f : kFamilies) {
    out.family(f.name, f.type, f.help);
    for (const auto& u : snapshot.upstreams()) {
      auto set = u->backends();
      for (const auto& b : set->backends) {
        out.sample(f.name, {{"upstream", u->config->name}, {"backend", b->address.text}},
                   f.value(*b));
      }
    }
  }
  return out.take();
}

http::Response AdminServer::statusPage() const {
  // The page is static; the server puts in the CSRF token its writes must carry.
  std::string_view html = statusPageHtml();
  constexpr std::string_view kCharset = "<meta charset=\"utf-8\">";
  size_t at = html.find(kCharset);
  at = at == std::string_view::npos ? 0 : at + kCharset.size();
  http::Response page;
  page.content_type = "text/html; charset=utf-8";
  page.body.reserve(html.size() + 64);
  page.body.append(html.substr(0, at));
  page.body.append("\n<meta name=\"csrf-token\" content=\"").append(access_.csrfToken());
  page.body.append("\">").append(html.substr(at));
  page.headers.emplace_back("Cache-Control", "no-store");
  page.headers.emplace_back("Content-Security-Policy", page_policy_);
  page.headers.emplace_back("X-Frame-Options", "DENY");
  page.headers.emplace_back("X-Content-Type-Options", "nosniff");
  page.headers.emplace_back("Referrer-Policy", "no-referrer");  // ?token= is in the address
  return page;
}

http::Response AdminServer::handle(const http::Request& request) {
  std::vector<std::string_view> parts = segments(request.path);
  bool get = request.method == HTTP_GET || request.method == HTTP_HEAD;
  if (parts.size() == 1 && parts[0] == "health") {
    return get ? http::Response::json(200, R"({"status":"ok"})") : methodNotAllowed("GET");
  }
  if (http::Response refusal = access_.check(request); refusal.status != 0) {
    return refusal;
  }
  if (parts.empty() && get) {  // the status page: static, its data comes with the token
    return statusPage();
  }
  if (!access_.authorized(request)) {
    http::Response r = error(401, "missing or wrong bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (parts.size() == 1 && parts[0] == "metrics") {
    if (!get) {
      return methodNotAllowed("GET");
    }
    http::Response r;
    r.content_type = std::string(metrics::Exposition::kContentType);
    r.body = render_metrics_();
    return r;
  }
  if (parts.size() == 2 && parts[0] == "cache" && parts[1] == "purge") {
    return request.method == HTTP_POST ? purgeCache(request) : methodNotAllowed("POST");
  }
  if (parts.empty() || parts[0] != "upstreams") {
    return error(404, "no such admin endpoint");
  }
  if (parts.size() == 1) {
    return get ? http::Response::json(200, control_->upstreamsJson()) : methodNotAllowed("GET");
  }
  if (parts.size() < 3 || parts.size() > 4 || parts[2] != "backends") {
    return error(404, "no such admin endpoint");
  }
  std::string upstream;
  if (!http::percentDecode(parts[1], &upstream)) {
    return error(400, "bad escape in the upstream name");
  }
  if (parts.size() == 3) {
    if (request.method != HTTP_POST) {
      return methodNotAllowed("POST");
    }
    std::string address;
    int weight = 1;
    std::string why = parseBody(request.body, &address, &weight, false);
    if (!why.empty()) {
      return error(400, why);
    }
    return fromOutcome(control_->addBackend(upstream, address, weight));
  }
  std::string address;
  if (!http::percentDecode(parts[3], &address)) {
    return error(400, "bad escape in the backend address");
  }
  if (request.method == HTTP_DELETE) {
    return fromOutcome(control_->removeBackend(upstream, address));
  }
  if (request.method == HTTP_PUT) {
    int weight = 1;
    std::string why = parseBody(request.body, nullptr, &weight, true);
    if (!why.empty()) {
      return error(400, why);
    }
    return fromOutcome(control_->setWeight(upstream, address, weight));
  }
  return methodNotAllowed("PUT, DELETE");
}

http::Response AdminServer::purgeCache(const http::Request& request) {
  PurgeRequest purge;
  std::string why = parsePurge(request.body, &purge);
  if (!why.empty()) {
    return error(400, why);
  }
  size_t purged = 0;
  for (const auto& [name, zone] : control_->snapshot().cacheZones().all()) {
    purged += zone->store.purge(purge.path, purge.prefix, purge.host);
  }
  return http::Response::json(200, nlohmann::json{{"purged", purged}}.dump());
}

}  // namespace balancer
