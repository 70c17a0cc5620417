// README.md's configuration reference against the keys balancer/config/ declares: a key
// declared but not documented, or documented but not declared, fails here, and so does a
// default that the README shows differently from the declaration.

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "balancer/config/declared_keys.h"

using balancer::config::DeclaredKey;
using balancer::config::declaredConfigKeys;

namespace {

// One row of the table: the key paths of its first cell, its default cell and all its text.
struct Row {
  std::vector<std::string> paths;
  std::string default_cell;
  std::string text;
};

// The cells of a Markdown table row, split at `|` not escaped as `\|`.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|' && line[i - 1] != '\\') {
      out.push_back(cell);
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return out;
}

// The `quoted` parts of a cell.
std::vector<std::string> quoted(const std::string& cell) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = cell.find('`', pos)) != std::string::npos) {
    size_t end = cell.find('`', pos + 1);
    if (end == std::string::npos) {
      break;
    }
    out.push_back(cell.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return out;
}

// "`listeners[].name`, `.address`" -> listeners[].name, listeners[].address; a trailing []
// ("backends[]") names the list itself.
std::vector<std::string> rowPaths(const std::string& cell) {
  std::vector<std::string> out;
  for (std::string path : quoted(cell)) {
    if (path.front() == '.' && !out.empty()) {
      path = out.front().substr(0, out.front().rfind('.')) + path;
    }
    if (path.size() > 2 && path.compare(path.size() - 2, 2, "[]") == 0) {
      path.resize(path.size() - 2);
    }
    out.push_back(path);
  }
  return out;
}

std::vector<Row> readmeRows() {
  std::ifstream in(std::string(SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::vector<Row> rows;
  std::string line;
  bool inside = false;
  // The first table after the heading.
  while (std::getline(in, line) && !(inside && !rows.empty() && line.rfind("|", 0) != 0)) {
    if (line.rfind("## ", 0) == 0) {
      inside = line == "## Configuration reference";
    } else if (inside && line.rfind("| `", 0) == 0) {
      auto parts = cells(line);
      INFO(line);
      REQUIRE(parts.size() == 3);
      rows.push_back({rowPaths(parts[0]), parts[1], line});
    }
  }
  return rows;
}

// Whether `word` stands alone in `text` (not part of a longer key name).
bool mentions(const std::string& text, const std::string& word) {
  auto isNamePart = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
    bool before = pos == 0 || !isNamePart(text[pos - 1]);
    size_t end = pos + word.size();
    bool after = end == text.size() || !isNamePart(text[end]);
    if (before && after) {
      return true;
    }
  }
  return false;
}

// "upstreams.NAME.pool.max_idle" -> "upstreams.NAME.pool"; "listeners[].name" -> "listeners".
std::string parentOf(const std::string& path) {
  size_t dot = path.rfind('.');
  if (dot == std::string::npos) {
    return "";
  }
  std::string parent = path.substr(0, dot);
  if (parent.size() > 2 && parent.compare(parent.size() - 2, 2, "[]") == 0) {
    parent.resize(parent.size() - 2);
  } else if (parent.size() > 5 && parent.compare(parent.size() - 5, 5, ".NAME") == 0) {
    parent.resize(parent.size() - 5);
  }
  return parent;
}

}  // namespace

TEST_CASE("README's configuration reference documents each declared key, and only those") {
  std::map<std::string, DeclaredKey> declared;
  for (const DeclaredKey& key : declaredConfigKeys()) {
    declared[key.name] = key;
  }
  auto rows = readmeRows();
  REQUIRE(rows.size() > 20);
  std::map<std::string, const Row*> documented;
  for (const Row& row : rows) {
    for (const std::string& path : row.paths) {
      INFO("README.md documents `" << path << "`");
      CHECK(declared.count(path) == 1);  // documented but not declared
      documented[path] = &row;
    }
  }
  for (const auto& [path, key] : declared) {
    if (key.section || documented.count(path)) {
      continue;  // a section is documented by its keys
    }
    // Or in the row of a section it belongs to: "`upstreams.NAME.pool` | {max_idle: ...}".
    bool found = false;
    for (std::string p = parentOf(path); !p.empty() && !found; p = parentOf(p)) {
      found = documented.count(p) && mentions(documented[p]->text, key.name.substr(
                                                                       key.name.rfind('.') + 1));
    }
    INFO("declared `" << path << "` (" << key.meaning << ") is not in README.md");
    CHECK(found);
  }
}

TEST_CASE("README's configuration reference shows each default as declared") {
  std::map<std::string, DeclaredKey> declared;
  for (const DeclaredKey& key : declaredConfigKeys()) {
    declared[key.name] = key;
  }
  for (const Row& row : readmeRows()) {
    if (row.paths.size() != 1 || !declared.count(row.paths[0]) ||
        declared[row.paths[0]].section) {
      continue;  // several keys or a section in one row: their defaults are in the text
    }
    const DeclaredKey& key = declared[row.paths[0]];
    auto shown = quoted(row.default_cell);
    INFO("`" << key.name << "`: README shows " << row.default_cell << ", declared '"
             << key.default_text << "'");
    if (key.default_text.empty()) {
      CHECK(shown.empty());
      continue;
    }
    REQUIRE_FALSE(shown.empty());
    std::string text = shown.front();
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
      text = text.substr(1, text.size() - 2);
    }
    CHECK(text == key.default_text);
  }
}
