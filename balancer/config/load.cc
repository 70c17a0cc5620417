// Loading a configuration: parse the YAML, read it by the key tables, then validate().

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <ios>
#include <tuple>

#include "balancer/config/config.h"

#include <sys/stat.h>

#include <cerrno>
#include "balancer/config/reader.h"
#include "balancer/config/sections.h"
#include "balancer/config/validate.h"

namespace balancer {

namespace {

// `err`: the errno of the open or read that failed (0: unknown).
std::string cannotRead(int err) {
  return err != 0 ? std::string("cannot read the file: ") + strerror(err) : "cannot read the file";
}

ConfigResult loadFrom(const std::function<YAML::Node()>& parse, const std::string& base_dir) {
  config::Reader reader;
  reader.base_dir = base_dir;
  Config config;
  try {
    YAML::Node root = parse();
    if (root.IsNull()) {
      reader.errors.push_back(ConfigError{1, 1, "the configuration is empty"});
    } else if (!root.IsMap()) {
      reader.error(root, "the configuration must be a mapping");
    } else {
      config::configKeys().read(reader, root, "", config);
      config::validate(config, reader.positions, &reader.errors);
    }
  } catch (const YAML::BadFile& e) {
    reader.errors.push_back(ConfigError{0, 0, cannotRead(errno)});
  } catch (const std::ios_base::failure& e) {
    // Opened, then not read: a folder (EISDIR), an I/O error.
    reader.errors.push_back(ConfigError{0, 0, cannotRead(errno)});
  } catch (const YAML::Exception& e) {
    reader.errors.push_back(ConfigError{e.mark.line + 1, e.mark.column + 1, e.msg});
  }
  ConfigResult result;
  result.errors = std::move(reader.errors);
  // In the order of the file, as a person fixes them.
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  if (result.errors.empty()) {
    result.config = std::move(config);
  }
  return result;
}

}  // namespace

const UpstreamConfig* Config::findUpstream(const std::string& name) const {
  for (const auto& u : upstreams) {
    if (u.name == name) {
      return &u;
    }
  }
  return nullptr;
}

ConfigResult loadConfigFile(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return loadFrom(
      [&] {
        errno = 0;  // what a failed open sets is the reason given
        struct stat st;
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          errno = EISDIR;  // yaml-cpp would leak its read buffer on a folder
          throw YAML::BadFile(path);
        }
        return YAML::LoadFile(path);
      },
      dir);
}

ConfigResult loadConfigString(const std::string& yaml) {
  return loadFrom([&] { return YAML::Load(yaml); }, "");
}

std::string formatConfigError(const std::string& file, const ConfigError& error) {
  return file + ":" + std::to_string(error.line) + ":" + std::to_string(error.column) + ": " +
         error.message;
}

}  // namespace balancer
