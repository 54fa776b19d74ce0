#include "storage/s3_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/config.hpp"

namespace dbmedic::storage {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t OnBody(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    (*headers)[name] = std::string(value);
  }
  return size * n;
}

bool IsTransientStatus(long status) { return status >= 500 || status == 429; }

std::string FromEnv(const std::map<std::string, std::string>& env, const char* name) {
  const auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

std::string Trim(std::string text, char c) {
  while (!text.empty() && text.front() == c) text.erase(text.begin());
  while (!text.empty() && text.back() == c) text.pop_back();
  return text;
}

}  // namespace

std::string XmlUnescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    static const std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (const auto& [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        done = true;
        break;
      }
    }
    if (!done) out += '&';
  }
  return out;
}

std::string XmlValue(std::string_view xml, std::string_view tag, std::size_t from) {
  const std::string open = fmt::format("<{}>", tag);
  const std::string close = fmt::format("</{}>", tag);
  const std::size_t start = xml.find(open, from);
  if (start == std::string_view::npos) return {};
  const std::size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return {};
  return XmlUnescape(xml.substr(start + open.size(), end - start - open.size()));
}

S3Settings S3SettingsFromConfig(const core::Config& config,
                                const std::map<std::string, std::string>& env) {
  S3Settings s;
  s.endpoint = config.String("s3.endpoint");
  s.bucket = config.String("s3.bucket");
  s.region = config.String("s3.region");
  s.uri_style = config.String("s3.uri_style") == "path" ? S3UriStyle::kPath : S3UriStyle::kHost;
  s.prefix = Trim(config.Optional("repository.path").value_or(""), '/');
  s.credentials.access_key = config.Optional("s3.key").value_or(FromEnv(env, "AWS_ACCESS_KEY_ID"));
  s.credentials.secret_key =
      config.Optional("s3.key_secret").value_or(FromEnv(env, "AWS_SECRET_ACCESS_KEY"));
  s.credentials.session_token =
      config.Optional("s3.token").value_or(FromEnv(env, "AWS_SESSION_TOKEN"));
  if (s.credentials.access_key.empty() || s.credentials.secret_key.empty()) {
    throw Error(ErrorCode::kConfig, "no S3 credentials: s3.key and s3.key_secret are not set",
                "set them in the config file, as DBMEDIC_S3_KEY / DBMEDIC_S3_KEY_SECRET, or as "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY");
  }
  s.verify_tls = config.Bool("s3.verify_tls");
  if (auto ca = config.Optional("s3.ca_file")) s.ca_file = *ca;
  s.retries = static_cast<int>(config.Int("s3.retries"));
  s.timeout = config.Duration("s3.timeout");
  s.part_size = config.Size("s3.part_size");
  return s;
}

S3Client::S3Client(S3Settings settings) : settings_(std::move(settings)) {
  GlobalInit();
  const std::size_t sep = settings_.endpoint.find("://");
  if (sep == std::string::npos) {
    throw Error(ErrorCode::kConfig,
                fmt::format("s3.endpoint '{}' is not a URL", settings_.endpoint),
                "write it as https://HOST[:PORT] (or http:// for a local test server)");
  }
  scheme_ = settings_.endpoint.substr(0, sep);
  host_port_ = Trim(settings_.endpoint.substr(sep + 3), '/');
  if ((scheme_ != "https" && scheme_ != "http") || host_port_.empty() ||
      host_port_.find('/') != std::string::npos) {
    throw Error(ErrorCode::kConfig,
                fmt::format("s3.endpoint '{}' is not of the form https://HOST[:PORT]",
                            settings_.endpoint));
  }
}

std::string S3Client::Describe(std::string_view key) const {
  return fmt::format("s3://{}/{}", settings_.bucket, key);
}

struct S3Client::Attempt {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  S3Response response;
};

S3Client::Attempt S3Client::SendOnce(std::string_view method, std::string_view key,
                                     const std::map<std::string, std::string>& query,
                                     std::string_view body,
                                     const std::string& payload_sha256) const {
  const bool host_style = settings_.uri_style == S3UriStyle::kHost;
  const std::string host = host_style ? settings_.bucket + "." + host_port_ : host_port_;
  std::string path = "/" + UriEncode(key, true);
  if (!host_style) path = "/" + UriEncode(settings_.bucket, false) + path;
  SignRequest sign{std::string(method), path, query, {{"host", host}}, payload_sha256};
  const std::string authorization =
      SignV4(sign, settings_.credentials, settings_.region, AmzDateNow());
  std::string url = fmt::format("{}://{}{}", scheme_, host, path);
  if (!query.empty()) url += "?" + CanonicalQuery(query);

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add = [&headers](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw Error(ErrorCode::kInternal, "out of memory building an S3 request");
    headers.release();
    headers.reset(next);
  };
  for (const auto& [name, value] : sign.headers) {
    if (name != "host") add(name + ": " + value);
  }
  add("Authorization: " + authorization);
  add("Expect:");  // no 100-continue round trip
  add("Content-Type: application/octet-stream");

  Attempt attempt;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) throw Error(ErrorCode::kInternal, "curl_easy_init failed");
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<std::int64_t>(
                                                     settings_.timeout.count(), 30000)));
  // A request may take `timeout` plus 1 s per MiB it moves (uploads: the body; reads: up to a
  // part's size), so a stalled server is detected even after a quick upload. A transfer that
  // stops moving for `timeout` fails earlier.
  const std::uint64_t moved = method == "GET" ? std::max<std::uint64_t>(body.size(),
                                                                         settings_.part_size)
                                              : body.size();
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(settings_.timeout.count()) +
                       static_cast<long>(moved * 1000 / (1 << 20)));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                   std::max<long>(1, static_cast<long>(settings_.timeout.count() / 1000)));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, settings_.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, settings_.verify_tls ? 2L : 0L);
  if (!settings_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, settings_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &attempt.response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &attempt.response.headers);
  const std::string method_text(method);
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT" || method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  }
  attempt.curl = curl_easy_perform(c);
  if (attempt.curl != CURLE_OK) {
    attempt.curl_error = error_buffer[0] ? error_buffer : curl_easy_strerror(attempt.curl);
    return attempt;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &attempt.response.status);
  return attempt;
}

S3Response S3Client::Send(std::string_view method, std::string_view key,
                          const std::map<std::string, std::string>& query,
                          std::string_view body) const {
  const std::string payload_sha256 = Sha256HexOf(body);
  thread_local std::minstd_rand jitter(std::random_device{}());
  std::string last_failure;
  for (int attempt = 0;; ++attempt) {
    Attempt a = SendOnce(method, key, query, body, payload_sha256);
    if (a.curl == CURLE_OK && !IsTransientStatus(a.response.status)) return std::move(a.response);
    last_failure = a.curl != CURLE_OK
                       ? a.curl_error
                       : fmt::format("HTTP {} {}", a.response.status,
                                     XmlValue(a.response.body, "Code"));
    if (attempt >= settings_.retries) break;
    const auto base = settings_.retry_base * (1LL << std::min(attempt, 6));
    const auto delay = std::min<std::chrono::milliseconds>(base, std::chrono::seconds(10)) +
                       std::chrono::milliseconds(jitter() % 100);
    spdlog::warn("S3 {} {}: {}; retry {} of {} in {} ms", method, Describe(key), last_failure,
                 attempt + 1, settings_.retries, delay.count());
    std::this_thread::sleep_for(delay);
  }
  throw Error(ErrorCode::kNetwork,
              fmt::format("S3 request {} '{}' at {} failed after {} attempts: {}", method,
                          Describe(key), settings_.endpoint, settings_.retries + 1, last_failure),
              "check that the endpoint is reachable (s3.endpoint) and retry; the operation can "
              "be run again safely");
}

Error S3Client::ResponseError(const S3Response& response, std::string_view operation,
                              std::string_view key) const {
  const std::string code = XmlValue(response.body, "Code");
  const std::string message = XmlValue(response.body, "Message");
  const std::string what =
      fmt::format("unable to {} '{}': HTTP {}{}{}", operation, Describe(key), response.status,
                  code.empty() ? "" : " " + code, message.empty() ? "" : " (" + message + ")");
  if (code == "NoSuchBucket") {
    return Error(ErrorCode::kRepository, what,
                 fmt::format("create the bucket '{}' or fix s3.bucket", settings_.bucket));
  }
  if (code == "NoSuchKey" || (response.status == 404 && code.empty())) {
    return Error(ErrorCode::kNotFound, what);
  }
  if (response.status == 403 || code == "InvalidAccessKeyId" ||
      code == "SignatureDoesNotMatch" || code == "AccessDenied") {
    return Error(ErrorCode::kConfig, what,
                 "check s3.key / s3.key_secret (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), "
                 "s3.region and the bucket's permissions");
  }
  return Error(ErrorCode::kNetwork, what);
}

}  // namespace dbmedic::storage
