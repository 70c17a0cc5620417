#include "common/compress/encoding.h"

#include <array>

namespace compression {

namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) {
      return false;
    }
  }
  return true;
}

struct Levels {
  int min, preset, max;
};
// gzip 5: zlib's speed falls off past 6 for little gain on JSON. br 4: brotli's quality 5
// and up switch to slower matchers (around a third of the speed per step). zstd 3: libzstd's
// own default; levels above 12 use the slow btlazy2/btopt strategies.
constexpr std::array<Levels, kEncodingCount> kLevels = {{{1, 5, 9}, {0, 4, 6}, {1, 3, 12}}};

}  // namespace

std::string_view encodingName(Encoding encoding) {
  switch (encoding) {
    case Encoding::kGzip:
      return "gzip";
    case Encoding::kBrotli:
      return "br";
    case Encoding::kZstd:
      return "zstd";
  }
  return "";
}

std::optional<Encoding> parseEncoding(std::string_view name) {
  if (equalsIgnoreCase(name, "gzip") || equalsIgnoreCase(name, "x-gzip")) {
    return Encoding::kGzip;
  }
  if (equalsIgnoreCase(name, "br")) {
    return Encoding::kBrotli;
  }
  if (equalsIgnoreCase(name, "zstd")) {
    return Encoding::kZstd;
  }
  return std::nullopt;
}

int defaultLevel(Encoding encoding) { return kLevels[static_cast<size_t>(encoding)].preset; }
int maxLevel(Encoding encoding) { return kLevels[static_cast<size_t>(encoding)].max; }
int minLevel(Encoding encoding) { return kLevels[static_cast<size_t>(encoding)].min; }

}  // namespace compression
