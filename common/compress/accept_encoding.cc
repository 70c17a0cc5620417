#include "common/compress/accept_encoding.h"

#include "common/http/header_list.h"

#include <array>

namespace compression {

namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// The q of one entry's parameters (";q=0.5;x=y"): 1000 when it has none, -1 when it is bad.
int entryQ(std::string_view params) {
  int q = 1000;
  while (!params.empty()) {
    size_t semi = params.find(';', 1);
    std::string_view param = http::trimOws(params.substr(1, semi == std::string_view::npos ? semi : semi - 1));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi);
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && equalsIgnoreCase(http::trimOws(param.substr(0, eq)), "q")) {
      q = parseQValue(http::trimOws(param.substr(eq + 1)));
    }
  }
  return q;
}

}  // namespace

int parseQValue(std::string_view text) {
  // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  if (text.empty() || (text[0] != '0' && text[0] != '1')) {
    return -1;
  }
  int whole = text[0] - '0';
  if (text.size() == 1) {
    return whole * 1000;
  }
  if (text[1] != '.' || text.size() > 5) {
    return -1;
  }
  int thousandths = 0;
  int scale = 100;
  for (size_t i = 2; i < text.size(); ++i, scale /= 10) {
    if (text[i] < '0' || text[i] > '9') {
      return -1;
    }
    thousandths += (text[i] - '0') * scale;
  }
  if (whole == 1 && thousandths != 0) {
    return -1;
  }
  return whole * 1000 + thousandths;
}

std::optional<Encoding> negotiateEncoding(std::string_view accept_encoding,
                                          std::span<const Encoding> offered) {
  std::array<int, kEncodingCount> listed;  // each coding's own q; -1: not listed
  listed.fill(-1);
  int star = -1;
  int identity = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view entry = http::trimOws(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t semi = entry.find(';');
    std::string_view coding = http::trimOws(entry.substr(0, semi));
    int q = semi == std::string_view::npos ? 1000 : entryQ(entry.substr(semi));
    if (coding.empty() || q < 0) {
      continue;
    }
    if (coding == "*") {
      star = q;
    } else if (equalsIgnoreCase(coding, "identity")) {
      identity = q;
    } else if (auto encoding = parseEncoding(coding)) {
      int& slot = listed[static_cast<size_t>(*encoding)];
      if (q > slot) {
        slot = q;  // gzip and x-gzip both listed: the better one counts
      }
    }
  }
  std::optional<Encoding> best;
  int best_q = 0;
  for (Encoding encoding : offered) {
    int q = listed[static_cast<size_t>(encoding)];
    if (q < 0) {
      q = star < 0 ? 0 : star;
    }
    if (q > best_q) {
      best = encoding;
      best_q = q;
    }
  }
  // The client may rank "no coding" above the best coding it lists (by "identity" or `*`). An
  // identity it does not mention is acceptable (RFC 9110 12.5.3) but ranks below what it
  // lists: a client that names codings wants them.
  int identity_q = identity >= 0 ? identity : star >= 0 ? star : 0;
  if (best && identity_q > best_q) {
    return std::nullopt;
  }
  return best;
}

}  // namespace compression
