#include "balancer/static_files/encoding_choice.h"

#include "common/http/header_list.h"

namespace balancer::static_files {

namespace {

// A qvalue ("0", "0.5", "1", "1.000") in thousandths; nothing if malformed.
std::optional<int> qvalue(std::string_view s) {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) {
    return std::nullopt;
  }
  int value = (s[0] - '0') * 1000;
  if (s.size() == 1) {
    return value;
  }
  if (s[1] != '.' || s.size() > 5) {
    return std::nullopt;
  }
  int scale = 100;
  for (size_t i = 2; i < s.size(); ++i, scale /= 10) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    value += (s[i] - '0') * scale;
  }
  return value > 1000 ? std::nullopt : std::optional<int>(value);
}

}  // namespace

std::string_view codingName(Coding coding) {
  switch (coding) {
    case Coding::kZstd:
      return "zstd";
    case Coding::kBr:
      return "br";
    case Coding::kGzip:
      return "gzip";
    case Coding::kIdentity:
      break;
  }
  return "identity";
}

std::string_view siblingSuffix(Coding coding) {
  switch (coding) {
    case Coding::kZstd:
      return ".zst";
    case Coding::kBr:
      return ".br";
    case Coding::kGzip:
      return ".gz";
    case Coding::kIdentity:
      break;
  }
  return "";
}

AcceptEncoding::AcceptEncoding(std::optional<std::string_view> field) {
  if (!field) {
    return;
  }
  present_ = true;
  std::string_view rest = *field;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t semicolon = element.find(';');
    std::string_view name = http::trimOws(element.substr(0, semicolon));
    if (name.empty()) {
      continue;
    }
    int weight = 1000;
    if (semicolon != std::string_view::npos) {
      std::string_view param = http::trimOws(element.substr(semicolon + 1));
      if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') ||
          http::trimOws(param.substr(1)).substr(0, 1) != "=") {
        continue;  // a parameter other than q: not a coding we know how to weigh
      }
      std::optional<int> q = qvalue(http::trimOws(http::trimOws(param.substr(1)).substr(1)));
      if (!q) {
        continue;
      }
      weight = *q;
    }
    if (name == "*") {
      star_ = weight;
      continue;
    }
    for (Coding c : {Coding::kZstd, Coding::kBr, Coding::kGzip, Coding::kIdentity}) {
      if (http::equalsIgnoreCase(name, codingName(c)) ||
          (c == Coding::kGzip && http::equalsIgnoreCase(name, "x-gzip"))) {
        named_[static_cast<size_t>(c)] = weight;
      }
    }
  }
}

int AcceptEncoding::weight(Coding coding) const {
  if (!present_) {
    return coding == Coding::kIdentity ? 1000 : 0;
  }
  if (const std::optional<int>& w = named_[static_cast<size_t>(coding)]) {
    return *w;
  }
  if (star_) {
    return *star_;
  }
  return coding == Coding::kIdentity ? 1000 : 0;
}

}  // namespace balancer::static_files
