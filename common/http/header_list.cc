#include "common/http/header_list.h"

namespace http {

namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

void HeaderList::clear() {
  storage_.clear();
  entries_.clear();
  in_value_ = false;
}

void HeaderList::appendName(const char* data, size_t len) {
  if (entries_.empty() || in_value_) {
    Entry e;
    e.name_offset = static_cast<uint32_t>(storage_.size());
    entries_.push_back(e);
    in_value_ = false;
  }
  storage_.append(data, len);
  entries_.back().name_length += static_cast<uint32_t>(len);
}

void HeaderList::appendValue(const char* data, size_t len) {
  if (entries_.empty()) {
    return;  // llhttp never sends a value before a name.
  }
  Entry& e = entries_.back();
  if (!in_value_) {
    e.value_offset = static_cast<uint32_t>(storage_.size());
    in_value_ = true;
  }
  storage_.append(data, len);
  e.value_length += static_cast<uint32_t>(len);
}

std::string_view HeaderList::name(size_t i) const {
  const Entry& e = entries_[i];
  return std::string_view(storage_).substr(e.name_offset, e.name_length);
}

std::string_view HeaderList::value(size_t i) const {
  const Entry& e = entries_[i];
  if (e.value_length == 0) {
    return {};
  }
  return std::string_view(storage_).substr(e.value_offset, e.value_length);
}

std::string_view HeaderList::find(std::string_view wanted, bool* found) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (equalsIgnoreCase(name(i), wanted)) {
      if (found != nullptr) {
        *found = true;
      }
      return value(i);
    }
  }
  if (found != nullptr) {
    *found = false;
  }
  return {};
}

}  // namespace http
