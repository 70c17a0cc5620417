#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace product {

// The fields a POST or PUT body may set. Absent fields stay unset: PUT is a partial update.
struct ProductInput {
  static constexpr size_t kMaxName = 200;           // characters, as the table's CHECK
  static constexpr size_t kMaxDescription = 10000;  // characters
  // JSON clients (JavaScript) read integers exactly up to 2^53 - 1.
  static constexpr int64_t kMaxPrice = 9007199254740991;
  static constexpr int64_t kMaxStock = 2147483647;  // the column is an integer

  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<int64_t> price;  // rupiah
  std::optional<int64_t> stock;

  bool empty() const { return !name && !description && !price && !stock; }
};

enum class InputMode { kCreate, kUpdate };

// Checks a request body. kCreate requires name and price; kUpdate requires at least one known
// field. Fields of the wrong type (null included), a name empty, blank or over 200
// characters, a description over 10000, a negative or too large price or stock, or text
// holding NUL: nullopt with *error saying which. Unknown fields are ignored, so a client may
// send back a product it read.
std::optional<ProductInput> parseProductInput(const nlohmann::json& body, InputMode mode,
                                              std::string* error);

}  // namespace product
