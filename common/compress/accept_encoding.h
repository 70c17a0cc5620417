#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "common/compress/encoding.h"

namespace compression {

// The content coding to answer with, negotiated as RFC 9110 12.5.3 says: each of `offered`
// (the route's encodings, in its order of preference) gets the q-value of its own entry in
// `accept_encoding`, else that of `*`, else 0 (not acceptable). The highest q above 0 wins,
// ties going to the earlier in `offered`. None when no offered coding is acceptable, or when
// the client ranks no coding higher: "identity" (or `*`, when identity is not listed) with a
// higher q than the best coding (an identity not mentioned ranks below every coding listed). `accept_encoding` is the field's value (several fields
// joined with ", "); a request without the field gets none (as every server does, although
// the RFC would allow any coding). Entries that do not parse are ignored.
std::optional<Encoding> negotiateEncoding(std::string_view accept_encoding,
                                          std::span<const Encoding> offered);

// A q-value ("1", "0.5", "0.001") in thousandths, or -1 when it is not one.
int parseQValue(std::string_view text);

}  // namespace compression
