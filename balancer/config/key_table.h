#pragma once

// A section of the configuration declared as a table: each key once, with its type, its
// default and its meaning, bound to the member of the struct it fills. Reading a section, its
// unknown-key check and the list of declared keys (declared_keys.h) all come from the table.
// A default is shown from a default-constructed struct, so the member initializer in
// config.h stays the one place it is written.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "balancer/config/declared_keys.h"
#include "balancer/config/reader.h"
#include "common/util/cidr.h"

namespace balancer::config {

// A value being read: the name its messages use ("timeouts.client_idle", "listener address")
// and its path in the file ("routes[2].rate_limit.scope"), under which its position is kept.
struct At {
  std::string label;
  std::string path;
};

inline std::string childPath(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

template <typename T>
struct Key {
  using ReadFn = std::function<void(Reader&, const YAML::Node& value, const At& at, T& out)>;
  using ShowFn = std::function<std::string(const T& defaults)>;
  using KeysFn = std::function<std::vector<DeclaredKey>()>;

  Key(std::string name_, std::string type_, std::string meaning_, ReadFn read_, ShowFn show_,
      std::string shape_ = "", KeysFn keys_ = nullptr)
      : name(std::move(name_)),
        type(std::move(type_)),
        meaning(std::move(meaning_)),
        read(std::move(read_)),
        show(std::move(show_)),
        shape(std::move(shape_)),
        keys(std::move(keys_)) {}

  std::string name;
  std::string type;  // as written in the file
  std::string meaning;
  ReadFn read;
  ShowFn show;        // the default's text; null: no default
  std::string needs;  // set: required, "<section> needs <needs>" when absent
  std::string shape;  // a nested section: "" (one), "[]" (a list), ".NAME" (a map)
  KeysFn keys;        // a nested section's keys

  Key required(std::string what) const {
    Key k = *this;
    k.needs = std::move(what);
    return k;
  }
  // For a default that is no member's value ("the rate", "off").
  Key shownAs(std::string text) const {
    Key k = *this;
    k.show = [text](const T&) { return text; };
    return k;
  }
};

template <typename T>
struct Section {
  std::string where;   // its name in messages: "unknown key 'x' in WHERE", "WHERE needs ..."
  std::string prefix;  // before a key's name in messages about its value: "timeouts."
  std::vector<Key<T>> keys;

  // Reads the mapping `node` into `out` by the table: reports each key the table does not
  // declare (listing those it does), each required key that is absent and each value that
  // does not convert; keeps each value's position under `path`. `where_as` replaces `where`
  // for a section with a name of its own ("upstream 'app'").
  void read(Reader& r, const YAML::Node& node, const std::string& path, T& out,
            const std::string& where_as = "") const {
    const std::string& w = where_as.empty() ? where : where_as;
    r.positions.record(path, node);
    if (!node.IsMap()) {
      r.error(node, w + " must be a mapping");
      return;
    }
    for (const auto& item : node) {
      std::string name = item.first.Scalar();
      if (!declares(name)) {
        r.error(item.first,
                "unknown key '" + name + "' in " + w + " (expected one of: " + expected() + ")");
      }
    }
    for (const Key<T>& key : keys) {
      const YAML::Node value = node[key.name];
      if (!value) {
        if (!key.needs.empty()) {
          r.error(node, w + " needs " + key.needs);
        }
        continue;
      }
      At at{prefix + key.name, childPath(path, key.name)};
      r.positions.record(at.path, value);
      key.read(r, value, at, out);
    }
  }

  bool declares(const std::string& name) const {
    for (const Key<T>& key : keys) {
      if (key.name == name) {
        return true;
      }
    }
    return false;
  }

  // "a, b, c": the keys in the order of the table.
  std::string expected() const {
    std::string list;
    for (const Key<T>& key : keys) {
      list += list.empty() ? key.name : ", " + key.name;
    }
    return list;
  }

  std::vector<DeclaredKey> declare() const {
    const T defaults{};
    std::vector<DeclaredKey> out;
    for (const Key<T>& key : keys) {
      DeclaredKey d;
      d.name = key.name;
      d.type = key.type;
      d.default_text = key.show ? key.show(defaults) : "";
      d.meaning = key.meaning;
      d.shape = key.shape;
      d.section = static_cast<bool>(key.keys);
      if (key.keys) {
        d.keys = key.keys();
      }
      out.push_back(std::move(d));
    }
    return out;
  }
};

// ---- Keys bound to a member, one factory per kind of value ----

template <typename T>
Key<T> duration(std::string name, Millis T::*member, std::string meaning,
                Millis min = Millis{0}) {
  return {std::move(name), "duration", std::move(meaning),
          [member, min](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto d = r.duration(v, at.label)) {
              if (*d < min) {
                r.error(v, at.label + " must be at least " + formatDuration(min));
              } else {
                out.*member = *d;
              }
            }
          },
          [member](const T& t) { return formatDuration(t.*member); }};
}

// A byte size into an integer member, or an optional one (which then has no default).
template <typename T, typename M>
Key<T> size(std::string name, M T::*member, std::string meaning) {
  typename Key<T>::ShowFn show;
  if constexpr (std::is_integral_v<M>) {
    show = [member](const T& t) { return formatSize(t.*member); };
  }
  return {std::move(name), "size", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto s = r.size(v, at.label)) {
              out.*member = *s;
            }
          },
          show};
}

template <typename T, typename N>
Key<T> count(std::string name, N T::*member, int64_t min, int64_t max, std::string meaning) {
  return {std::move(name), std::to_string(min) + ".." + std::to_string(max), std::move(meaning),
          [member, min, max](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto n = r.integer(v, at.label, min, max)) {
              out.*member = static_cast<N>(*n);
            }
          },
          [member](const T& t) { return std::to_string(t.*member); }};
}

// A count, or `auto` (the member left unset).
template <typename T, typename N>
Key<T> countOrAuto(std::string name, std::optional<N> T::*member, int64_t min, int64_t max,
                   std::string meaning) {
  return {std::move(name), std::to_string(min) + ".." + std::to_string(max) + "|auto",
          std::move(meaning),
          [member, min, max](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (v.IsScalar() && v.Scalar() == "auto") {
              (out.*member).reset();
            } else if (auto n = r.integer(v, at.label, min, max, "or auto")) {
              out.*member = static_cast<N>(*n);
            }
          },
          [member](const T& t) {
            return (t.*member).has_value() ? std::to_string(*(t.*member)) : std::string("auto");
          }};
}

template <typename T>
Key<T> flag(std::string name, bool T::*member, std::string meaning) {
  return {std::move(name), "true|false", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto b = r.flag(v, at.label)) {
              out.*member = *b;
            }
          },
          [member](const T& t) { return std::string(t.*member ? "true" : "false"); }};
}

template <typename T>
Key<T> text(std::string name, std::string T::*member, std::string meaning) {
  return {std::move(name), "text", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto s = r.scalar(v, at.label)) {
              out.*member = *s;
            }
          },
          [member](const T& t) { return t.*member; }};
}

// A URL path: it must start with '/'.
template <typename T>
Key<T> urlPath(std::string name, std::string T::*member, std::string meaning) {
  return {std::move(name), "/path", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto s = r.scalar(v, at.label)) {
              if (s->empty() || s->front() != '/') {
                r.error(v, at.label + " must start with '/'");
              }
              out.*member = *s;
            }
          },
          [member](const T& t) { return t.*member; }};
}

// A file that must be readable when the configuration is loaded; relative to its folder.
template <typename T>
Key<T> file(std::string name, std::string T::*member, std::string meaning) {
  return {std::move(name), "file", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto path = r.readableFile(v, at.label)) {
              out.*member = *path;
            }
          },
          nullptr};
}

// IP:port into an address member, or an optional one.
template <typename T, typename M>
Key<T> address(std::string name, M T::*member, std::string meaning) {
  return {std::move(name), "IP:port", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (auto a = r.address(v, at.label)) {
              out.*member = *a;
            }
          },
          nullptr};
}

template <typename T>
Key<T> textList(std::string name, std::vector<std::string> T::*member, std::string meaning) {
  return {std::move(name), "list", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            out.*member = r.stringList(v, at.label);
          },
          nullptr};
}

// Client networks ("10.0.0.0/8", "2001:db8::/32", one address).
template <typename T>
Key<T> cidrs(std::string name, std::vector<util::Cidr> T::*member, std::string meaning) {
  return {std::move(name), "list of CIDR", std::move(meaning),
          [member](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (!v.IsSequence()) {
              r.error(v, at.label + " must be a list of networks, e.g. [10.0.0.0/8]");
              return;
            }
            for (const YAML::Node& item : v) {
              auto text = r.scalar(item, at.label);
              if (!text) {
                continue;
              }
              std::string why;
              if (auto cidr = util::Cidr::parse(*text, &why)) {
                (out.*member).push_back(*cidr);
              } else {
                r.error(item, at.label + ": " + why);
              }
            }
          },
          nullptr};
}

// One of a few words, each standing for a value of the member.
template <typename T, typename E>
Key<T> choice(std::string name, E T::*member, std::vector<std::pair<std::string, E>> options,
              std::string meaning) {
  std::string type;
  std::string words;
  for (size_t i = 0; i < options.size(); ++i) {
    type += (i == 0 ? "" : "|") + options[i].first;
    words += (i == 0 ? "" : i + 1 == options.size() ? " or " : ", ") + options[i].first;
  }
  return {std::move(name), type, std::move(meaning),
          [member, options, words](Reader& r, const YAML::Node& v, const At& at, T& out) {
            auto s = r.scalar(v, at.label);
            if (!s) {
              return;
            }
            for (const auto& [word, value] : options) {
              if (*s == word) {
                out.*member = value;
                return;
              }
            }
            r.error(v, "unknown " + at.label + " '" + *s + "': " + at.label + " must be " + words);
          },
          [member, options](const T& t) {
            for (const auto& [word, value] : options) {
              if (t.*member == value) {
                return word;
              }
            }
            return std::string();
          }};
}

// ---- Nested sections: one, an optional one, a list of them ----

template <typename T, typename S>
Key<T> section(std::string name, S T::*member, const Section<S>& (*keys)(),
               std::string meaning) {
  return {std::move(name), "mapping", std::move(meaning),
          [member, keys](Reader& r, const YAML::Node& v, const At& at, T& out) {
            keys().read(r, v, at.path, out.*member);
          },
          nullptr, "", [keys] { return keys().declare(); }};
}

// A section whose keys are members of the struct that holds it (`match` in a route).
template <typename T>
Key<T> inlineSection(std::string name, const Section<T>& (*keys)(), std::string meaning) {
  return {std::move(name), "mapping", std::move(meaning),
          [keys](Reader& r, const YAML::Node& v, const At& at, T& out) {
            keys().read(r, v, at.path, out);
          },
          nullptr, "", [keys] { return keys().declare(); }};
}

// Present in the file: set, with the defaults of S for the keys it does not give.
template <typename T, typename S>
Key<T> optionalSection(std::string name, std::optional<S> T::*member,
                       const Section<S>& (*keys)(), std::string meaning) {
  return {std::move(name), "mapping", std::move(meaning),
          [member, keys](Reader& r, const YAML::Node& v, const At& at, T& out) {
            S value{};
            keys().read(r, v, at.path, value);
            out.*member = std::move(value);
          },
          nullptr, "", [keys] { return keys().declare(); }};
}

// A list of sections, each read by `keys` (every item is kept, so the Nth item of the file
// is the Nth of the member and its positions are under "NAME[N]").
template <typename T, typename S>
Key<T> listOf(std::string name, std::vector<S> T::*member, const Section<S>& (*keys)(),
              std::string meaning) {
  return {std::move(name), "list", std::move(meaning),
          [member, keys](Reader& r, const YAML::Node& v, const At& at, T& out) {
            if (!v.IsSequence()) {
              r.error(v, at.label + " must be a list");
              return;
            }
            size_t i = 0;
            for (const auto& node : v) {
              S item{};
              keys().read(r, node, at.path + "[" + std::to_string(i++) + "]", item);
              (out.*member).push_back(std::move(item));
            }
          },
          nullptr, "[]", [keys] { return keys().declare(); }};
}

}  // namespace balancer::config
