#include "balancer/filters/cors.h"

#include <algorithm>
#include <memory>

#include "balancer/filters/fixed_response.h"
#include "common/http/header_list.h"

namespace balancer::filters {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out.append(out.empty() ? "" : ", ").append(item);
  }
  return out;
}

// Request headers a page may always send (the Fetch standard's CORS-safelisted names).
bool safelisted(std::string_view name) {
  for (std::string_view s : {"accept", "accept-language", "content-language", "content-type"}) {
    if (http::equalsIgnoreCase(name, s)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Cors::Cors(CorsConfig config) : config_(std::move(config)) {
  any_origin_ = std::find(config_.origins.begin(), config_.origins.end(), "*") !=
                config_.origins.end();
  methods_ = join(config_.methods);
  if (!config_.expose.empty()) {
    expose_ = "Access-Control-Expose-Headers: " + join(config_.expose) + "\r\n";
  }
}

bool Cors::originListed(std::string_view origin) const {
  if (any_origin_) {
    return true;
  }
  // Origins are compared as browsers serialize them: scheme and host in lower case.
  return std::any_of(config_.origins.begin(), config_.origins.end(),
                     [&](const std::string& o) { return http::equalsIgnoreCase(o, origin); });
}

std::string Cors::allowOrigin(std::string_view origin) const {
  std::string lines = "Access-Control-Allow-Origin: ";
  if (any_origin_ && !config_.credentials) {
    lines.append("*\r\n");
  } else {
    lines.append(origin).append("\r\n");
  }
  if (config_.credentials) {
    lines.append("Access-Control-Allow-Credentials: true\r\n");
  }
  return lines;
}

Verdict Cors::onRequestHead(FilterContext& ctx) {
  const http::HeaderList& headers = *ctx.request.headers;
  bool has_origin = false;
  std::string_view origin = http::trimOws(headers.find("origin", &has_origin));
  bool per_origin = !any_origin_ || config_.credentials;  // the answer depends on Origin
  if (has_origin && ctx.request.method == "OPTIONS") {
    bool asks = false;
    headers.find("access-control-request-method", &asks);
    if (asks) {
      return preflight(ctx, origin);
    }
  }
  // The route's CORS answer is the edge's: an upstream's own Access-Control-* fields would
  // make a second, conflicting answer (a browser refuses two Allow-Origin values).
  static constexpr std::string_view kOwn[] = {"Access-Control-Allow-Origin",
                                              "Access-Control-Allow-Credentials",
                                              "Access-Control-Expose-Headers"};
  ctx.out.replaced_response_headers->insert(ctx.out.replaced_response_headers->end(),
                                            std::begin(kOwn), std::end(kOwn));
  std::string lines;
  if (has_origin && originListed(origin)) {
    lines = allowOrigin(origin);
    lines.append(expose_);
  }
  if (per_origin) {
    lines.append("Vary: Origin\r\n");
  }
  return Verdict::next(std::move(lines));
}

Verdict Cors::preflight(FilterContext& ctx, std::string_view origin) const {
  const http::HeaderList& headers = *ctx.request.headers;
  constexpr std::string_view kVary =
      "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n";
  if (!originListed(origin)) {
    return Verdict::reply(403, "CORS: this origin is not allowed", std::string(kVary));
  }
  std::string_view method = http::trimOws(headers.find("access-control-request-method"));
  if (std::find(config_.methods.begin(), config_.methods.end(), method) ==
      config_.methods.end()) {
    return Verdict::reply(403, "CORS: this method is not allowed", std::string(kVary));
  }
  std::string_view asked = headers.find("access-control-request-headers");
  std::string allowed_headers;
  while (!asked.empty()) {
    size_t comma = asked.find(',');
    std::string_view name = http::trimOws(asked.substr(0, comma));
    asked = comma == std::string_view::npos ? std::string_view() : asked.substr(comma + 1);
    if (name.empty()) {
      continue;
    }
    bool listed = safelisted(name) ||
                  std::any_of(config_.headers.begin(), config_.headers.end(),
                              [&](const std::string& h) { return http::equalsIgnoreCase(h, name); });
    if (!listed) {
      return Verdict::reply(403, "CORS: a requested header is not allowed", std::string(kVary));
    }
    allowed_headers.append(allowed_headers.empty() ? "" : ", ").append(name);
  }
  std::string lines = allowOrigin(origin);
  lines.append("Access-Control-Allow-Methods: ").append(methods_).append("\r\n");
  if (!allowed_headers.empty()) {
    lines.append("Access-Control-Allow-Headers: ").append(allowed_headers).append("\r\n");
  }
  if (config_.max_age.count() > 0) {
    lines.append("Access-Control-Max-Age: ")
        .append(std::to_string(config_.max_age.count() / 1000))
        .append("\r\n");
  }
  lines.append(kVary);
  return Verdict::respond(std::make_shared<FixedResponse>(204, std::move(lines)));
}

}  // namespace balancer::filters
