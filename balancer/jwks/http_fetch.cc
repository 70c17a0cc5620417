#include "balancer/jwks/http_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "common/http/header_list.h"

namespace balancer::jwks {

namespace {

struct Transfer {
  const FetchRequest* request;
  FetchResult* result;
  bool too_large = false;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (t->result->body.size() + n > t->request->max_body_bytes) {
    t->too_large = true;
    return 0;  // curl fails the transfer with CURLE_WRITE_ERROR
  }
  t->result->body.append(data, n);
  return n;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->result->cache_control.clear();  // a 100 Continue's fields are not the answer's
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos &&
      http::equalsIgnoreCase(line.substr(0, colon), "cache-control")) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
      value.remove_suffix(1);
    }
    std::string& out = t->result->cache_control;
    out.append(out.empty() ? "" : ", ").append(http::trimOws(value));
  }
  return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return t->request->abort != nullptr && t->request->abort->load() ? 1 : 0;
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};

}  // namespace

FetchResult httpGet(const FetchRequest& request) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  FetchResult result;
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) {
    result.error = "curl_easy_init failed";
    return result;
  }
  Transfer transfer{&request, &result};
  char error_text[CURL_ERROR_SIZE] = "";
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // other threads own the signals
  curl_easy_setopt(e, CURLOPT_PROXY, "");     // keys come straight from their server
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!request.ca_file.empty()) {
    curl_easy_setopt(e, CURLOPT_CAINFO, request.ca_file.c_str());
  }
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "balancer-jwks");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &onProgress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_text);

  CURLcode code = curl_easy_perform(e);
  if (transfer.too_large) {
    result.error = "body over " + std::to_string(request.max_body_bytes) + " bytes";
    return result;
  }
  if (code != CURLE_OK) {
    result.error = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
    return result;
  }
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    result.error = "HTTP status " + std::to_string(status);
    return result;
  }
  result.ok = true;
  return result;
}

}  // namespace balancer::jwks
