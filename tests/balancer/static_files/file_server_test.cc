#include <catch2/catch.hpp>

#include "../filters/filter_fixture.h"
#include "balancer/static_files/file_server.h"
#include "temp_tree.h"

using balancer::filters::LocalResponse;
using balancer::filters::Verdict;
using balancer::static_files::FileRequest;
using balancer::static_files::FileServer;
using filters_test::FilterFixture;
using static_files_test::drain;
using static_files_test::TempTree;
using Action = balancer::filters::Verdict::Action;

namespace {

constexpr time_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

// One request through a FileServer: the target is split and normalized as the router does.
struct Served {
  Verdict verdict;
  int status = 0;
  std::string headers;
  std::string body;
  LocalResponse* response = nullptr;
};

class ServerFixture {
 public:
  explicit ServerFixture(std::string strip_prefix = "")
      : server(tree.root(), "index.html", std::move(strip_prefix)) {}

  Served get(std::string_view target,
             std::initializer_list<std::pair<std::string, std::string>> fields = {},
             std::string method = "GET") {
    fixture.method = std::move(method);
    auto& ctx = fixture.request(target, fields);
    Served out;
    out.verdict = server.serve(FileRequest::from(ctx.request), ctx.services->loop());
    if (out.verdict.action == Action::kReply) {
      out.status = out.verdict.status;
      out.headers = out.verdict.headers;
    } else if (out.verdict.action == Action::kRespond) {
      out.response = out.verdict.response.get();
      out.status = out.response->status;
      out.headers = out.response->headers;
      bool bodyless = fixture.method == "HEAD" || out.status == 304;
      if (!bodyless) {
        out.body = drain(*out.response, ctx.services->loop()).body;
      }
    }
    return out;
  }

  TempTree tree;
  FilterFixture fixture;
  FileServer server;
};

bool hasLine(const std::string& headers, const std::string& line) {
  return headers.find(line + "\r\n") != std::string::npos;
}

std::string headerValue(const std::string& headers, const std::string& name) {
  size_t at = headers.find(name + ": ");
  if (at == std::string::npos) {
    return {};
  }
  size_t start = at + name.size() + 2;
  return headers.substr(start, headers.find("\r\n", start) - start);
}

}  // namespace

TEST_CASE("a file comes with its type, validators and length") {
  ServerFixture f;
  f.tree.file("page.html", "<h1>hi</h1>", kMtime);
  f.tree.file("data.json", "{}", kMtime);
  Served page = f.get("/page.html");
  REQUIRE(page.verdict.action == Action::kRespond);
  CHECK(page.status == 200);
  CHECK(page.body == "<h1>hi</h1>");
  CHECK(page.response->content_length == 11);
  CHECK(hasLine(page.headers, "Content-Type: text/html; charset=utf-8"));
  CHECK(hasLine(page.headers, "ETag: \"2ebc98a1-b\""));  // mtime and size in hex, as nginx
  CHECK(hasLine(page.headers, "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT"));
  CHECK(hasLine(page.headers, "Accept-Ranges: bytes"));
  CHECK(hasLine(page.headers, "Vary: Accept-Encoding"));
  CHECK(headerValue(page.headers, "Content-Encoding").empty());
  CHECK(hasLine(f.get("/data.json").headers, "Content-Type: application/json"));
}

TEST_CASE("HEAD gets the head and length, other methods 405") {
  ServerFixture f;
  f.tree.file("a.txt", "12345");
  Served head = f.get("/a.txt", {}, "HEAD");
  REQUIRE(head.verdict.action == Action::kRespond);
  CHECK(head.status == 200);
  CHECK(head.response->content_length == 5);
  CHECK(hasLine(head.headers, "Content-Type: text/plain; charset=utf-8"));
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    INFO(method);
    Served other = f.get("/a.txt", {}, method);
    CHECK(other.status == 405);
    CHECK(hasLine(other.headers, "Allow: GET, HEAD"));
  }
}

TEST_CASE("conditional GETs: 304 for a matching ETag or an unchanged date, 412 for If-Match") {
  ServerFixture f;
  f.tree.file("a.txt", "v1", kMtime);
  std::string etag = headerValue(f.get("/a.txt").headers, "ETag");
  REQUIRE_FALSE(etag.empty());
  Served same = f.get("/a.txt", {{"If-None-Match", "\"x\", " + etag}});
  CHECK(same.status == 304);
  CHECK_FALSE(same.response->content_length);
  CHECK(hasLine(same.headers, "ETag: " + etag));
  CHECK(f.get("/a.txt", {{"If-None-Match", "W/" + etag}}).status == 304);  // weak comparison
  CHECK(f.get("/a.txt", {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}).status ==
        304);
  CHECK(f.get("/a.txt", {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:36 GMT"}}).status ==
        200);
  CHECK(f.get("/a.txt", {{"If-Match", "\"other\""}}).status == 412);
  CHECK(f.get("/a.txt", {{"If-Match", etag}}).status == 200);
  // Rewritten: a new ETag, and the old one no longer matches.
  f.tree.file("a.txt", "v2 longer", kMtime + 60);
  Served changed = f.get("/a.txt", {{"If-None-Match", etag}});
  CHECK(changed.status == 200);
  CHECK(changed.body == "v2 longer");
  CHECK(headerValue(changed.headers, "ETag") != etag);
}

TEST_CASE("Range: 206 with Content-Range, 416 when unsatisfiable, If-Range guards it") {
  ServerFixture f;
  f.tree.file("r.txt", "0123456789", kMtime);
  Served part = f.get("/r.txt", {{"Range", "bytes=2-5"}});
  CHECK(part.status == 206);
  CHECK(part.body == "2345");
  CHECK(part.response->content_length == 4);
  CHECK(hasLine(part.headers, "Content-Range: bytes 2-5/10"));
  CHECK(f.get("/r.txt", {{"Range", "bytes=-3"}}).body == "789");
  Served none = f.get("/r.txt", {{"Range", "bytes=10-"}});
  CHECK(none.status == 416);
  CHECK(hasLine(none.headers, "Content-Range: bytes */10"));
  CHECK(f.get("/r.txt", {{"Range", "bytes=0-1,5-6"}}).status == 200);  // no multipart
  CHECK(f.get("/r.txt", {{"Range", "lines=1-2"}}).status == 200);
  std::string etag = headerValue(part.headers, "ETag");
  CHECK(f.get("/r.txt", {{"Range", "bytes=2-5"}, {"If-Range", etag}}).status == 206);
  Served stale = f.get("/r.txt", {{"Range", "bytes=2-5"}, {"If-Range", "\"old\""}});
  CHECK(stale.status == 200);
  CHECK(stale.body == "0123456789");
  CHECK(f.get("/r.txt", {{"Range", "bytes=2-5"}, {"If-Range", "Sun, 06 Nov 1994 08:49:37 GMT"}})
            .status == 206);
  CHECK(f.get("/r.txt", {{"Range", "bytes=2-5"}}, "HEAD").status == 200);  // GET only
}

TEST_CASE("precompressed siblings are served when accepted, with Content-Encoding") {
  ServerFixture f;
  f.tree.file("app.js", "plain js");
  f.tree.file("app.js.gz", "GZ-BYTES");
  f.tree.file("app.js.br", "BR-BYTES!");
  f.tree.file("app.js.zst", "ZSTD");
  Served plain = f.get("/app.js");
  CHECK(plain.body == "plain js");
  CHECK(headerValue(plain.headers, "Content-Encoding").empty());
  Served gz = f.get("/app.js", {{"Accept-Encoding", "gzip"}});
  CHECK(gz.body == "GZ-BYTES");
  CHECK(hasLine(gz.headers, "Content-Encoding: gzip"));
  CHECK(hasLine(gz.headers, "Content-Type: text/javascript; charset=utf-8"));
  CHECK(hasLine(gz.headers, "Vary: Accept-Encoding"));
  CHECK(gz.response->content_length == 8);
  CHECK(hasLine(gz.headers, "ETag: \"2ebc98a1-8-gzip\""));  // not the plain file's tag
  CHECK(hasLine(plain.headers, "ETag: \"2ebc98a1-8\""));
  CHECK(f.get("/app.js", {{"Accept-Encoding", "gzip, deflate, br"}}).body == "BR-BYTES!");
  CHECK(f.get("/app.js", {{"Accept-Encoding", "gzip, br, zstd"}}).body == "ZSTD");
  CHECK(f.get("/app.js", {{"Accept-Encoding", "br;q=0.5, gzip"}}).body == "GZ-BYTES");
  CHECK(f.get("/app.js", {{"Accept-Encoding", "compress"}}).body == "plain js");
  // A range applies to the bytes sent: the encoded ones.
  Served range = f.get("/app.js", {{"Accept-Encoding", "gzip"}, {"Range", "bytes=0-1"}});
  CHECK(range.body == "GZ");
  CHECK(hasLine(range.headers, "Content-Range: bytes 0-1/8"));
  // A 304 for the variant the client holds.
  std::string gz_etag = headerValue(gz.headers, "ETag");
  CHECK(f.get("/app.js", {{"Accept-Encoding", "gzip"}, {"If-None-Match", gz_etag}}).status ==
        304);
  CHECK(f.get("/app.js", {{"If-None-Match", gz_etag}}).status == 200);
  // A sibling that is a symlink is not used.
  f.tree.file("b.css", "plain css");
  f.tree.symlink("app.js.gz", "b.css.gz");
  CHECK(f.get("/b.css", {{"Accept-Encoding", "gzip"}}).body == "plain css");
}

TEST_CASE("folders: index with a slash, 301 without (query kept), 404 without an index") {
  ServerFixture f;
  f.tree.file("index.html", "home");
  f.tree.file("docs/index.html", "docs");
  f.tree.file("bare/file.txt", "x");
  CHECK(f.get("/").body == "home");
  Served docs = f.get("/docs/");
  CHECK(docs.body == "docs");
  CHECK(hasLine(docs.headers, "Content-Type: text/html; charset=utf-8"));
  Served moved = f.get("/docs?lang=en");
  CHECK(moved.status == 301);
  CHECK(hasLine(moved.headers, "Location: /docs/?lang=en"));
  CHECK(f.get("/bare/").status == 404);  // no listing
  CHECK(f.get("/missing.txt").status == 404);
}

TEST_CASE("strip_prefix: the rest of the path is looked up under the root") {
  ServerFixture f("/static");
  f.tree.file("index.html", "home");
  f.tree.file("css/site.css", "body{}");
  CHECK(f.get("/static/css/site.css").body == "body{}");
  CHECK(f.get("/static/").body == "home");
  Served moved = f.get("/static");
  CHECK(moved.status == 301);
  CHECK(hasLine(moved.headers, "Location: /static/"));
}

TEST_CASE("every traversal shape is refused: 400 or 404, never a file outside the root") {
  ServerFixture f("/static");
  f.tree.file("index.html", "home");
  f.tree.file("a/b.txt", "inner");
  {
    std::ofstream(f.tree.outside() + "/secret.txt") << "SECRET";
  }
  f.tree.symlink(f.tree.outside() + "/secret.txt", "leak.txt");
  f.tree.symlink(f.tree.outside(), "up");
  struct Case {
    const char* target;
    int status;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"/static/../secret.txt", 404},          // normalized to /secret.txt: under the root
           {"/static/../../secret.txt", 400},       // climbs above "/"
           {"/static/%2e%2e/%2e%2e/secret.txt", 400},
           {"/static/%2E%2E/secret.txt", 404},      // "/secret.txt" once normalized
           {"/static/a/%2e%2e%2f%2e%2e%2fsecret.txt", 400},  // an encoded slash
           {"/static/..%2fsecret.txt", 400},
           {"/static/a%2fb.txt", 400},
           {"/static/secret.txt%00.html", 400},     // NUL
           {"/static/a%00", 400},
           {"/static/..%5csecret.txt", 400},        // encoded backslash
           {"/static/a%5Cb.txt", 400},
           {"/static/%252e%252e/secret.txt", 404},  // double encoding decodes once: "%2e%2e"
           {"/static/%252e%252e%252fsecret.txt", 404},
           {"/static/leak.txt", 404},               // a symlink out of the root
           {"/static/up/secret.txt", 404},
           {"/static/up/", 404},
       }) {
    INFO(c.target);
    Served s = f.get(c.target);
    CHECK(s.status == c.status);
    CHECK(s.body.find("SECRET") == std::string::npos);
  }
  CHECK(f.get("/static/a/b.txt").body == "inner");  // the same tree serves what is inside
}
