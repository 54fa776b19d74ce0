// A minimal S3 REST client on libcurl: one signed request at a time (SigV4), retried with
// exponential backoff on transient failures (connection errors, timeouts, HTTP 5xx and 429).
// Path-style (https://endpoint/bucket/key) or virtual-host (https://bucket.endpoint/key)
// addressing; TLS peer and host verification on unless turned off.
//
// Thread safety: Send may be called from many threads at once (one curl handle per call).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "storage/s3_signer.hpp"

namespace dbmedic::core {
class Config;
}

namespace dbmedic::storage {

enum class S3UriStyle { kPath, kHost };

struct S3Settings {
  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"
  std::string bucket;
  std::string region = "us-east-1";
  std::string prefix;  // key prefix of the repository, no leading or trailing '/'
  S3UriStyle uri_style = S3UriStyle::kHost;
  S3Credentials credentials;
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's CA bundle
  int retries = 4;      // after the first attempt
  std::chrono::milliseconds retry_base{250};
  std::chrono::milliseconds timeout{60000};  // longest time without progress
  std::uint64_t part_size = 16ull << 20;     // multipart above this
};

// From s3.* and repository.path (the key prefix); credentials fall back to AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from `env`. Throws Error(kConfig) for a missing
// endpoint, bucket or credentials, or a malformed endpoint.
S3Settings S3SettingsFromConfig(const core::Config& config,
                                const std::map<std::string, std::string>& env);

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

class S3Client {
 public:
  explicit S3Client(S3Settings settings);

  // Sends the request (key relative to the bucket, query decoded), retrying transient failures.
  // Returns any HTTP response that is not transient; throws Error(kNetwork) naming the request
  // when the last attempt failed in transport or with a transient status.
  S3Response Send(std::string_view method, std::string_view key,
                  const std::map<std::string, std::string>& query = {},
                  std::string_view body = {}) const;

  // "s3://bucket/key" for messages.
  std::string Describe(std::string_view key) const;
  const S3Settings& settings() const { return settings_; }

  // The Error for a response that is not what the caller expected, from S3's XML error
  // (<Code>, <Message>): kNotFound for NoSuchKey, kRepository for NoSuchBucket, kConfig for
  // rejected credentials or signatures, kNetwork otherwise.
  Error ResponseError(const S3Response& response, std::string_view operation,
                      std::string_view key) const;

 private:
  struct Attempt;
  Attempt SendOnce(std::string_view method, std::string_view key,
                   const std::map<std::string, std::string>& query, std::string_view body,
                   const std::string& payload_sha256) const;

  S3Settings settings_;
  std::string scheme_;     // "https"
  std::string host_port_;  // "s3.amazonaws.com" or "127.0.0.1:9000"
};

// Text of the first <tag>...</tag> in `xml` (XML entities decoded), or empty.
std::string XmlValue(std::string_view xml, std::string_view tag, std::size_t from = 0);
std::string XmlUnescape(std::string_view text);

}  // namespace dbmedic::storage
