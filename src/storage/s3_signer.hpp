// AWS Signature Version 4 for S3 requests (header-based authentication): canonical request,
// string to sign, signing key. Pure functions, so they are checked against AWS's published
// examples without a server. Payloads are signed by their SHA-256 (x-amz-content-sha256).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace dbmedic::storage {

struct S3Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

struct SignRequest {
  std::string method;                        // "GET", "PUT", ...
  std::string canonical_uri;                 // already URI-encoded path, "/bucket/key"
  std::map<std::string, std::string> query;  // decoded names and values
  // Headers to sign, lowercase names (must include "host"; "x-amz-date" and
  // "x-amz-content-sha256" are added by Sign).
  std::map<std::string, std::string> headers;
  std::string payload_sha256;  // hex
};

// Adds x-amz-date, x-amz-content-sha256 (and x-amz-security-token) to `request.headers` and
// returns the Authorization header value. `amz_date` is "YYYYMMDDTHHMMSSZ".
std::string SignV4(SignRequest& request, const S3Credentials& credentials,
                   std::string_view region, std::string_view amz_date);

// URI-encodes per SigV4 rules (unreserved characters kept; '/' kept when `keep_slash`).
std::string UriEncode(std::string_view text, bool keep_slash);

// Canonical query string: names and values encoded, sorted by name.
std::string CanonicalQuery(const std::map<std::string, std::string>& query);

std::string Sha256HexOf(std::string_view data);

// "YYYYMMDDTHHMMSSZ" of now (UTC).
std::string AmzDateNow();

}  // namespace dbmedic::storage
