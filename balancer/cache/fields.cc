#include "balancer/cache/fields.h"

namespace balancer::cache {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && isSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

void appendLine(std::string& out, std::string_view value, bool* found) {
  if (found != nullptr && *found) {
    out += ", ";
  }
  out.append(value);
  if (found != nullptr) {
    *found = true;
  }
}

}  // namespace

std::string combinedValue(const http::HeaderList& headers, std::string_view name, bool* found) {
  bool any = false;
  std::string out;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (http::equalsIgnoreCase(headers.name(i), name)) {
      appendLine(out, trim(headers.value(i)), &any);
    }
  }
  if (found != nullptr) {
    *found = any;
  }
  return out;
}

std::string combinedValue(const Fields& fields, std::string_view name, bool* found) {
  bool any = false;
  std::string out;
  for (const Field& field : fields) {
    if (http::equalsIgnoreCase(field.name, name)) {
      appendLine(out, trim(field.value), &any);
    }
  }
  if (found != nullptr) {
    *found = any;
  }
  return out;
}

std::vector<std::string_view> splitList(std::string_view value) {
  std::vector<std::string_view> members;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size()) {
      char c = value[i];
      if (quoted && c == '\\') {
        ++i;  // a quoted-pair: the next character is literal
        continue;
      }
      if (c == '"') {
        quoted = !quoted;
      }
      if (quoted || c != ',') {
        continue;
      }
    }
    std::string_view member = trim(value.substr(start, i - start));
    if (!member.empty()) {
      members.push_back(member);
    }
    start = i + 1;
  }
  return members;
}

std::string normalizeValue(std::string_view value) {
  std::string out;
  for (std::string_view member : splitList(value)) {
    if (!out.empty()) {
      out += ", ";
    }
    bool space = false;
    for (char c : member) {
      if (isSpace(c)) {
        space = true;
        continue;
      }
      if (space) {
        out += ' ';
        space = false;
      }
      out += c;
    }
  }
  return out;
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c + 32);
    }
  }
  return out;
}

}  // namespace balancer::cache
