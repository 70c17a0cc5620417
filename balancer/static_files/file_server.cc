#include "balancer/static_files/file_server.h"

#include <cinttypes>
#include <memory>
#include <optional>

#include "balancer/static_files/encoding_choice.h"
#include "balancer/static_files/file_response.h"
#include "balancer/static_files/path_resolver.h"
#include "common/http/conditional.h"
#include "common/http/date.h"
#include "common/http/range.h"

namespace balancer::static_files {

namespace {

using filters::Verdict;

std::optional<std::string> field(const http::HeaderList* headers, std::string_view name) {
  bool found = false;
  std::string_view value = headers != nullptr ? headers->find(name, &found) : std::string_view();
  return found ? std::optional<std::string>(value) : std::nullopt;
}

// nginx's form: the modification time and the size in hex. It changes when the file is
// replaced or rewritten, and differs between a file and its precompressed sibling.
// A precompressed sibling's tag names its coding too: a sibling may well have the same
// size and time as the file, and two representations must never share a strong tag.
std::string entityTag(const struct stat& st, Coding coding) {
  char buf[96];
  int n = snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIx64,
                   static_cast<uint64_t>(st.st_mtim.tv_sec), static_cast<uint64_t>(st.st_size));
  std::string tag = "\"" + std::string(buf, static_cast<size_t>(n));
  if (coding != Coding::kIdentity) {
    tag += "-" + std::string(codingName(coding));
  }
  return tag + "\"";
}

// 301 to the folder's URL with its trailing slash, the query kept.
Verdict addSlash(const FileRequest& request) {
  auto moved = std::make_shared<BufferedResponse>();
  moved->status = 301;
  moved->headers = "Location: " + request.path + "/" + request.query + "\r\n";
  return Verdict::respond(std::move(moved));
}

}  // namespace

FileRequest FileRequest::from(const filters::RequestFacts& request) {
  FileRequest out;
  out.method = request.method;
  out.path = request.target.path;
  out.query = request.target.query;
  out.path_invalid = request.target.path_invalid;
  out.accept_encoding = field(request.headers, "Accept-Encoding");
  out.range = field(request.headers, "Range");
  out.if_range = field(request.headers, "If-Range");
  if (request.headers != nullptr) {
    out.preconditions = http::Preconditions::fromHeaders(*request.headers);
  }
  return out;
}

FileServer::FileServer(std::string root, std::string index, std::string strip_prefix,
                       const MimeTypes& types)
    : root_(std::move(root)),
      index_(std::move(index)),
      strip_prefix_(std::move(strip_prefix)),
      types_(types) {}

Verdict FileServer::serve(const FileRequest& request, uv_loop_t* loop) const {
  std::string path;
  Verdict early;
  if (!locate(request, &path, &early)) {
    return early;
  }
  return answer(request, lookUp(path), loop);
}

bool FileServer::locate(const FileRequest& request, std::string* path, Verdict* answer) const {
  if (request.method != "HEAD" && request.method != "GET") {
    *answer = Verdict::reply(405, "method not allowed: a static route serves GET and HEAD",
                             "Allow: GET, HEAD\r\n");
    return false;
  }
  if (request.path_invalid || request.path.empty()) {
    *answer = Verdict::reply(400, "invalid path for a file");  // the session refuses it first
    return false;
  }
  std::string_view rest = request.path;
  if (!strip_prefix_.empty() && rest.substr(0, strip_prefix_.size()) == strip_prefix_) {
    rest.remove_prefix(strip_prefix_.size());
  }
  if (rest.empty() && request.path.back() != '/') {
    *answer = addSlash(request);  // "/static" for the root: relative links need "/static/"
    return false;
  }
  path->clear();
  if (rest.empty() || rest.front() != '/') {
    path->push_back('/');
  }
  path->append(rest);
  return true;
}

std::string FileServer::cacheKey(std::string_view path) const {
  std::string key;
  key.reserve(root_.size() + index_.size() + path.size() + 2);
  key.append(root_).push_back('\0');
  key.append(index_).push_back('\0');
  key.append(path);
  return key;
}

FileLookup FileServer::lookUp(std::string_view path) const {
  ResolvedFile found = resolveUnderRoot(root_, path, index_);
  FileLookup out;
  out.outcome = found.outcome;
  if (found.outcome == ResolvedFile::Outcome::kFile) {
    out.file = openWithSiblings(std::move(found));
  }
  return out;
}

Verdict FileServer::answer(const FileRequest& request, const FileLookup& found,
                           uv_loop_t* loop) const {
  switch (found.outcome) {
    case ResolvedFile::Outcome::kBadPath:
      return Verdict::reply(400, "invalid path for a file");
    case ResolvedFile::Outcome::kNotFound:
      return Verdict::reply(404, "no such file");
    case ResolvedFile::Outcome::kAddSlash:
      return addSlash(request);
    case ResolvedFile::Outcome::kFile:
      break;
  }
  const OpenFile& file = *found.file;

  // The coding: a precompressed sibling the client accepts, preferred at equal weight.
  AcceptEncoding accept(request.accept_encoding ? std::optional<std::string_view>(
                                                     *request.accept_encoding)
                                               : std::nullopt);
  Coding coding =
      chooseCoding(accept, [&](Coding c) { return file.version(c).fd.valid(); });
  const struct stat& st = file.version(coding).stat;

  std::string etag = entityTag(st, coding);
  http::Validators validators;
  validators.etag = etag;
  validators.last_modified = static_cast<int64_t>(st.st_mtim.tv_sec);
  std::string headers = "ETag: " + etag + "\r\nLast-Modified: " +
                        http::formatHttpDate(*validators.last_modified) +
                        "\r\nVary: Accept-Encoding\r\n";

  switch (http::evaluatePreconditions(request.preconditions, validators, true)) {
    case http::PreconditionResult::kNotModified: {
      auto not_modified = std::make_shared<BufferedResponse>();
      not_modified->status = 304;
      not_modified->content_length.reset();
      not_modified->headers = std::move(headers);
      return Verdict::respond(std::move(not_modified));
    }
    case http::PreconditionResult::kFailed:
      return Verdict::reply(412, "precondition failed");
    case http::PreconditionResult::kProceed:
      break;
  }

  auto size = static_cast<uint64_t>(st.st_size);
  http::RangeDecision range;
  // Range is defined for GET only (RFC 9110 section 14.2): HEAD gets the whole head.
  if (request.method != "HEAD" && request.range &&
      (!request.if_range || http::ifRangeHolds(*request.if_range, validators))) {
    range = http::evaluateRange(*request.range, size);
  }
  if (range.kind == http::RangeDecision::Kind::kUnsatisfiable) {
    return Verdict::reply(416, "range not satisfiable",
                          "Content-Range: " + range.contentRange(size) + "\r\n");
  }
  headers += "Content-Type: " + types_.contentType(file.name) + "\r\nAccept-Ranges: bytes\r\n";
  if (coding != Coding::kIdentity) {
    headers += "Content-Encoding: " + std::string(codingName(coding)) + "\r\n";
  }
  uint64_t offset = 0;
  uint64_t length = size;
  if (range.kind == http::RangeDecision::Kind::kPartial) {
    headers += "Content-Range: " + range.contentRange(size) + "\r\n";
    offset = range.range.first;
    length = range.range.length();
  }
  auto response = std::make_shared<FileResponse>(loop, found.file, coding, offset, length);
  response->status = range.status();
  response->headers = std::move(headers);
  return Verdict::respond(std::move(response));
}

}  // namespace balancer::static_files
