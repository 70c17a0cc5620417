#include <catch2/catch.hpp>

#include "balancer/static_files/mime_types.h"

using balancer::static_files::MimeTypes;

TEST_CASE("mime.types text is parsed: first mention wins, comments and blank lines skipped") {
  MimeTypes types = MimeTypes::parse(
      "# a comment\n"
      "\n"
      "text/html\t\thtml htm\n"
      "application/x-thing   thing  # trailing comment\n"
      "application/no-extensions\n"
      "text/x-other html\n"
      "Image/PNG PNG\r\n");
  CHECK(types.contentType("index.html") == "text/html; charset=utf-8");
  CHECK(types.contentType("a/b/page.HTM") == "text/html; charset=utf-8");
  CHECK(types.contentType("x.thing") == "application/x-thing");
  CHECK(types.contentType("logo.png") == "image/png");
  CHECK(types.contentType("README") == "application/octet-stream");
  CHECK(types.contentType("archive.") == "application/octet-stream");
  CHECK(types.contentType("dir.html/file") == "application/octet-stream");
}

TEST_CASE("Debian's /etc/mime.types is the table, with charset for text and scripts") {
  const MimeTypes& types = MimeTypes::system();
  CHECK(types.size() > 500);  // the built-in table has about 20
  CHECK(types.contentType("index.html") == "text/html; charset=utf-8");
  CHECK(types.contentType("site.css") == "text/css; charset=utf-8");
  CHECK(types.contentType("app.js").rfind("text/javascript; charset=utf-8", 0) == 0);
  CHECK(types.contentType("data.json") == "application/json");
  CHECK(types.contentType("logo.svg") == "image/svg+xml; charset=utf-8");
  CHECK(types.contentType("photo.jpg") == "image/jpeg");
  CHECK(types.contentType("font.woff2") == "font/woff2");
  CHECK(types.contentType("module.wasm") == "application/wasm");
  CHECK(types.contentType("manual.pdf") == "application/pdf");
}

TEST_CASE("without the file, a built-in table covers the web's common types") {
  MimeTypes types = MimeTypes::load("/nonexistent/mime.types");
  CHECK(types.size() > 10);
  CHECK(types.contentType("index.html") == "text/html; charset=utf-8");
  CHECK(types.contentType("app.mjs") == "text/javascript; charset=utf-8");
  CHECK(types.contentType("x.webp") == "image/webp");
  CHECK(types.contentType("x.unknown") == "application/octet-stream");
}
