#include "services/kit/input_check.h"

#include "common/http/query.h"
#include "common/util/utf8.h"

namespace kit {

bool isCleanText(std::string_view text) {
  return text.find('\0') == std::string_view::npos && util::isValidUtf8(text);
}

std::optional<nlohmann::json> readJsonObject(std::string_view body, std::string* error) {
  std::string problem;
  // Called for each value and key as it is parsed; returning false drops it (the first
  // problem is enough to refuse the body).
  auto check = [&problem](int depth, nlohmann::json::parse_event_t event,
                          nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (!problem.empty()) {
      return false;
    }
    if ((event == Event::object_start || event == Event::array_start) &&
        depth >= kMaxJsonDepth) {
      problem = "the body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;  // not kept: what is inside costs no memory
    }
    if ((event == Event::key || event == Event::value) && parsed.is_string() &&
        parsed.get_ref<const std::string&>().find('\0') != std::string::npos) {
      problem = event == Event::key ? "a JSON key contains NUL (\\u0000)"
                                    : "a JSON string contains NUL (\\u0000)";
      return false;
    }
    return true;
  };
  nlohmann::json parsed = nlohmann::json::parse(body, check, /*allow_exceptions=*/false);
  if (!problem.empty()) {  // found before the end, whether or not the rest parses
    *error = std::move(problem);
    return std::nullopt;
  }
  if (parsed.is_discarded()) {
    *error = "the body is not valid JSON (or not UTF-8)";
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    *error = "the body must be a JSON object";
    return std::nullopt;
  }
  return parsed;
}

namespace {

// "" or why `raw` (percent-encoded) does not decode to clean text; `what` names it.
std::string encodedTextProblem(std::string_view raw, std::string_view what) {
  std::string decoded;
  if (!http::percentDecode(raw, &decoded)) {
    return std::string(what) + ": bad percent-encoding";
  }
  if (!isCleanText(decoded)) {
    return std::string(what) + ": must be UTF-8 text without NUL";
  }
  return {};
}

}  // namespace

std::string requestTextProblem(std::string_view path, std::string_view query,
                               std::string_view idempotency_key) {
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    // '+' decodes to a space here, which changes nothing about whether the text is clean.
    if (std::string p = encodedTextProblem(path.substr(start, end - start), "the path");
        !p.empty()) {
      return p;
    }
    start = end + 1;
  }
  for (auto [name, value] : http::splitQuery(query)) {
    if (std::string p = encodedTextProblem(name, "a query parameter name"); !p.empty()) {
      return p;
    }
    // The problem names its parameter (as handlers do), when the name is short enough to echo.
    std::string decoded;
    http::percentDecode(name, &decoded);
    if (decoded.size() > 64) {
      decoded = "a query parameter";
    }
    if (std::string p = encodedTextProblem(value, decoded); !p.empty()) {
      return p;
    }
  }
  if (!isCleanText(idempotency_key)) {
    return "Idempotency-Key: must be UTF-8 text without NUL";
  }
  return {};
}

}  // namespace kit
