#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace balancer::static_files {

// The precompressed siblings a file may have ("app.js.zst", ".br", ".gz"), in the order the
// server prefers them at equal quality: zstd and brotli compress text better than gzip.
enum class Coding : uint8_t { kZstd, kBr, kGzip, kIdentity };

std::string_view codingName(Coding coding);  // "zstd", "br", "gzip", "identity"
std::string_view siblingSuffix(Coding coding);  // ".zst", ".br", ".gz", ""

// An Accept-Encoding field's weights (RFC 9110 section 12.5.3), in thousandths.
class AcceptEncoding {
 public:
  // `field` absent (nullopt): the client said nothing, and gets identity.
  explicit AcceptEncoding(std::optional<std::string_view> field);
  // The weight the client gives `coding`: its own entry, else "*"'s, else 0 (identity: 1000
  // unless "identity" or "*" says otherwise). "x-gzip" counts as gzip.
  int weight(Coding coding) const;
  // Whether the client accepts `coding` at all (weight > 0).
  bool accepts(Coding coding) const { return weight(coding) > 0; }

 private:
  bool present_ = false;
  std::optional<int> named_[4];  // by Coding
  std::optional<int> star_;
};

// Of the codings for which `available(coding)` holds (identity always does), the one the
// client weights highest; at equal weight the server's order (zstd, br, gzip, identity).
// Identity when nothing encoded is acceptable, even if the client refused identity too
// (RFC 9110 allows sending it rather than a 406).
template <typename Available>
Coding chooseCoding(const AcceptEncoding& accept, Available available) {
  Coding best = Coding::kIdentity;
  int best_weight = accept.weight(Coding::kIdentity);
  for (Coding c : {Coding::kGzip, Coding::kBr, Coding::kZstd}) {
    int w = accept.weight(c);
    if (w > 0 && w >= best_weight && available(c)) {
      best = c;
      best_weight = w;
    }
  }
  return best;
}

}  // namespace balancer::static_files
