#include "services/product/product_input.h"

namespace product {

namespace {

// Code points in valid UTF-8 (the JSON parser has checked it): the bytes that do not
// continue a sequence.
size_t characters(const std::string& text) {
  size_t n = 0;
  for (char c : text) {
    n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

bool blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

// Reads an optional string field; false (with *error) when present but not a usable string.
bool readText(const nlohmann::json& body, const char* field, size_t max_chars,
              std::optional<std::string>* out, std::string* error) {
  // contains() + at() rather than find(): GCC's -Wnull-dereference misreads the iterator.
  if (!body.contains(field)) {
    return true;
  }
  const nlohmann::json& given = body.at(field);
  if (!given.is_string()) {
    *error = std::string(field) + " must be a string";
    return false;
  }
  std::string text = given.get<std::string>();
  if (text.find('\0') != std::string::npos) {
    *error = std::string(field) + " must not contain NUL";
    return false;
  }
  if (characters(text) > max_chars) {
    *error = std::string(field) + " must be at most " + std::to_string(max_chars) + " characters";
    return false;
  }
  *out = std::move(text);
  return true;
}

bool readAmount(const nlohmann::json& body, const char* field, int64_t max,
                std::optional<int64_t>* out, std::string* error) {
  // contains() + at() rather than find(): GCC's -Wnull-dereference misreads the iterator.
  if (!body.contains(field)) {
    return true;
  }
  const nlohmann::json& given = body.at(field);
  std::string range = std::string(field) + " must be an integer from 0 to " + std::to_string(max);
  if (!given.is_number_integer()) {
    *error = range;
    return false;
  }
  if (given.is_number_unsigned() && given.get<uint64_t>() > static_cast<uint64_t>(max)) {
    *error = range;
    return false;
  }
  int64_t value = given.get<int64_t>();
  if (value < 0 || value > max) {
    *error = range;
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

std::optional<ProductInput> parseProductInput(const nlohmann::json& body, InputMode mode,
                                              std::string* error) {
  ProductInput in;
  if (!readText(body, "name", ProductInput::kMaxName, &in.name, error) ||
      !readText(body, "description", ProductInput::kMaxDescription, &in.description, error) ||
      !readAmount(body, "price", ProductInput::kMaxPrice, &in.price, error) ||
      !readAmount(body, "stock", ProductInput::kMaxStock, &in.stock, error)) {
    return std::nullopt;
  }
  if (in.name && blank(*in.name)) {
    *error = "name must not be empty";
    return std::nullopt;
  }
  if (mode == InputMode::kCreate) {
    if (!in.name) {
      *error = "name is required (a string)";
      return std::nullopt;
    }
    if (!in.price) {
      *error = "price is required (an integer)";
      return std::nullopt;
    }
  } else if (in.empty()) {
    *error = "nothing to update: give name, description, price or stock";
    return std::nullopt;
  }
  return in;
}

}  // namespace product
