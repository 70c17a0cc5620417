#include "services/kit/config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kit {

namespace {

std::string envName(std::string_view path) {
  std::string name = "SHOP_";
  for (char c : path) {
    name += c == '.' || c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string markOf(const std::string& file, const YAML::Mark& mark) {
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

YAML::Node walk(const YAML::Node& root, std::string_view path) {
  YAML::Node node = root;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key(path.substr(start, dot == std::string_view::npos ? path.npos : dot - start));
    if (!node.IsMap()) {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    YAML::Node child = node[key];
    if (!child.IsDefined()) {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    node.reset(child);
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return node;
}

void collectKeys(const YAML::Node& node, const std::string& prefix,
                 std::vector<std::string>* out) {
  if (!node.IsMap()) {
    if (!prefix.empty()) {
      out->push_back(prefix);
    }
    return;
  }
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    collectKeys(kv.second, prefix.empty() ? key : prefix + "." + key, out);
  }
}

}  // namespace

Config Config::fromYaml(const std::string& text, std::string file_name) {
  Config config;
  config.file_ = std::move(file_name);
  try {
    config.root_ = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(markOf(config.file_, e.mark) + ": " + e.msg);
  }
  if (config.root_.IsDefined() && !config.root_.IsNull() && !config.root_.IsMap()) {
    throw ConfigError(markOf(config.file_, config.root_.Mark()) + ": expected a map of settings");
  }
  return config;
}

Config Config::fromArgs(int argc, char** argv) {
  std::string file;
  std::map<std::string, std::string, std::less<>> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        throw ConfigError(std::string(arg) + " needs a value");
      }
      return argv[++i];
    };
    if (arg == "--config" || arg == "-c") {
      file = next();
    } else if (arg == "--listen") {
      overrides["listen"] = next();
    } else if (arg == "--set") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw ConfigError("--set " + kv + ": expected KEY=VALUE");
      }
      overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      throw ConfigError("unknown argument " + std::string(arg) +
                        " (usage: --config FILE [--listen ADDR] [--set KEY=VALUE]...)");
    }
  }
  Config config;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      throw ConfigError(file + ": cannot read");
    }
    std::stringstream text;
    text << in.rdbuf();
    config = fromYaml(text.str(), file);
  }
  config.overrides_ = std::move(overrides);
  return config;
}

std::optional<Config::Value> Config::lookup(std::string_view path) const {
  used_.emplace(path);
  if (auto it = overrides_.find(path); it != overrides_.end()) {
    return Value{it->second, "--set " + std::string(path)};
  }
  std::string env = envName(path);
  if (const char* v = std::getenv(env.c_str()); v != nullptr) {
    return Value{v, "environment " + env};
  }
  YAML::Node node = walk(root_, path);
  if (!node.IsDefined() || node.IsNull()) {
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    throw ConfigError(markOf(file_, node.Mark()) + ": " + std::string(path) +
                      ": expected a single value");
  }
  return Value{node.Scalar(), markOf(file_, node.Mark())};
}

void Config::fail(const Value& v, std::string_view path, std::string_view what) const {
  throw ConfigError(v.where + ": " + std::string(path) + ": " + std::string(what) + ", not '" +
                    v.text + "'");
}

std::string Config::string(std::string_view path, std::string_view fallback) const {
  auto v = lookup(path);
  return v ? v->text : std::string(fallback);
}

int64_t Config::integer(std::string_view path, int64_t fallback) const {
  auto v = lookup(path);
  if (!v) {
    return fallback;
  }
  int64_t out = 0;
  const char* end = v->text.data() + v->text.size();
  auto [ptr, ec] = std::from_chars(v->text.data(), end, out);
  if (ec != std::errc() || ptr != end) {
    fail(*v, path, "expected an integer");
  }
  return out;
}

bool Config::boolean(std::string_view path, bool fallback) const {
  auto v = lookup(path);
  if (!v) {
    return fallback;
  }
  if (v->text == "true" || v->text == "yes" || v->text == "on" || v->text == "1") {
    return true;
  }
  if (v->text == "false" || v->text == "no" || v->text == "off" || v->text == "0") {
    return false;
  }
  fail(*v, path, "expected true or false");
}

util::Millis Config::duration(std::string_view path, util::Millis fallback) const {
  auto v = lookup(path);
  if (!v) {
    return fallback;
  }
  std::string error;
  auto d = util::parseDuration(v->text, &error);
  if (!d) {
    fail(*v, path, "expected a duration such as 500ms, 60s or 5m");
  }
  return *d;
}

std::vector<std::string> Config::strings(std::string_view path) const {
  used_.emplace(path);
  std::vector<std::string> out;
  auto split = [&](const std::string& text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
      if (!item.empty()) {
        out.push_back(item);
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  };
  if (auto it = overrides_.find(path); it != overrides_.end()) {
    split(it->second);
    return out;
  }
  if (const char* v = std::getenv(envName(path).c_str()); v != nullptr) {
    split(v);
    return out;
  }
  YAML::Node node = walk(root_, path);
  if (!node.IsDefined() || node.IsNull()) {
    return out;
  }
  if (node.IsScalar()) {
    split(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) {
    throw ConfigError(markOf(file_, node.Mark()) + ": " + std::string(path) +
                      ": expected a list");
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      throw ConfigError(markOf(file_, item.Mark()) + ": " + std::string(path) +
                        ": expected a list of strings");
    }
    out.push_back(item.Scalar());
  }
  return out;
}

YAML::Node Config::node(std::string_view path) const {
  used_.emplace(path);
  return walk(root_, path);
}

bool Config::has(std::string_view path) const {
  if (overrides_.count(path) != 0 || std::getenv(envName(path).c_str()) != nullptr) {
    return true;
  }
  YAML::Node node = walk(root_, path);
  return node.IsDefined() && !node.IsNull();
}

std::vector<std::string> Config::unusedFileKeys() const {
  std::vector<std::string> keys;
  std::vector<std::string> unused;
  collectKeys(root_, "", &keys);
  for (const std::string& key : keys) {
    // A key is used when it or one of its parents was asked for (node() hands out subtrees).
    bool used = false;
    std::string_view prefix = key;
    while (!used) {
      used = used_.count(prefix) != 0;
      size_t dot = prefix.rfind('.');
      if (dot == std::string_view::npos) {
        break;
      }
      prefix = prefix.substr(0, dot);
    }
    if (!used) {
      unused.push_back(key);
    }
  }
  return unused;
}

}  // namespace kit
