#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace balancer::static_files {

// File name extensions to media types. The table is Debian's media-types package
// (/etc/mime.types, kept in step with IANA's registry and the distribution's), read once; a
// small built-in table covers the web's common types where that file is missing.
class MimeTypes {
 public:
  // The table of `path` in mime.types format ("type ext ext ...", '#' comments); the
  // built-in one when it cannot be read.
  static MimeTypes load(const std::string& path = "/etc/mime.types");
  // The process's table, loaded from /etc/mime.types on first use (thread-safe).
  static const MimeTypes& system();
  // Parses mime.types text.
  static MimeTypes parse(std::string_view text);
  static MimeTypes builtIn();

  // The Content-Type value for a file name: its extension's type (case-insensitive), with
  // "; charset=utf-8" for text types and JavaScript; application/octet-stream when the
  // extension is unknown or there is none.
  std::string contentType(std::string_view file_name) const;
  size_t size() const { return types_.size(); }

 private:
  std::unordered_map<std::string, std::string> types_;  // lower-case extension -> type
};

}  // namespace balancer::static_files
