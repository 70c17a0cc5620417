#include "balancer/static_files/mime_types.h"

#include <fstream>
#include <sstream>

namespace balancer::static_files {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Whether a browser should be told the charset: text and scripts are UTF-8 here (the
// storefront's pages, JSON aside: RFC 8259 gives JSON no charset parameter).
bool wantsCharset(std::string_view type) {
  return type.substr(0, 5) == "text/" || type == "application/javascript" ||
         type == "image/svg+xml" || type == "application/xml";
}

}  // namespace

MimeTypes MimeTypes::parse(std::string_view text) {
  MimeTypes table;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    line = line.substr(0, line.find('#'));
    std::string_view type;
    while (!line.empty()) {
      while (!line.empty() && isSpace(line.front())) {
        line.remove_prefix(1);
      }
      size_t end = 0;
      while (end < line.size() && !isSpace(line[end])) {
        ++end;
      }
      if (end == 0) {
        break;
      }
      std::string_view word = line.substr(0, end);
      line.remove_prefix(end);
      if (type.empty()) {
        type = word;
      } else {
        // The first mention wins, as in nginx and Apache: later lines do not override.
        table.types_.emplace(lower(word), lower(type));
      }
    }
  }
  return table;
}

MimeTypes MimeTypes::builtIn() {
  return parse(
      "text/html html htm\n"
      "text/css css\n"
      "text/javascript js mjs\n"
      "application/json json map\n"
      "application/manifest+json webmanifest\n"
      "application/wasm wasm\n"
      "application/xml xml\n"
      "application/pdf pdf\n"
      "image/svg+xml svg\n"
      "image/png png\n"
      "image/jpeg jpg jpeg\n"
      "image/gif gif\n"
      "image/webp webp\n"
      "image/avif avif\n"
      "image/vnd.microsoft.icon ico\n"
      "font/woff woff\n"
      "font/woff2 woff2\n"
      "text/plain txt\n");
}

MimeTypes MimeTypes::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return builtIn();
  }
  std::stringstream text;
  text << in.rdbuf();
  MimeTypes table = parse(text.str());
  return table.size() == 0 ? builtIn() : table;
}

const MimeTypes& MimeTypes::system() {
  static const MimeTypes table = load();
  return table;
}

std::string MimeTypes::contentType(std::string_view file_name) const {
  size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) {
    file_name.remove_prefix(slash + 1);
  }
  size_t dot = file_name.rfind('.');
  if (dot != std::string_view::npos && dot + 1 < file_name.size()) {
    auto it = types_.find(lower(file_name.substr(dot + 1)));
    if (it != types_.end()) {
      return wantsCharset(it->second) ? it->second + "; charset=utf-8" : it->second;
    }
  }
  return "application/octet-stream";
}

}  // namespace balancer::static_files
