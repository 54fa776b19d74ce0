// SigV4 against the example of AWS's "Signature Version 4 (header-based)" S3 documentation
// (GET Object with a Range header), and the URI / XML helpers of the S3 client.
#include <gtest/gtest.h>

#include "core/config.hpp"
#include "core/error.hpp"
#include "storage/s3_client.hpp"
#include "storage/s3_signer.hpp"

namespace dbmedic::storage {
namespace {

const S3Credentials kAwsExample{"AKIAIOSFODNN7EXAMPLE",
                                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

TEST(S3SignerTest, MatchesTheAwsGetObjectExample) {
  SignRequest r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"}, {"range", "bytes=0-9"}};
  r.payload_sha256 = Sha256HexOf("");
  const std::string auth = SignV4(r, kAwsExample, "us-east-1", "20130524T000000Z");
  EXPECT_EQ(auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3SignerTest, AddsTheDateAndPayloadHeaders) {
  SignRequest r;
  r.method = "PUT";
  r.canonical_uri = "/b/k";
  r.headers = {{"host", "h"}};
  r.payload_sha256 = Sha256HexOf("x");
  SignV4(r, {"a", "s", "token"}, "eu-west-1", "20260101T000000Z");
  EXPECT_EQ(r.headers.at("x-amz-date"), "20260101T000000Z");
  EXPECT_EQ(r.headers.at("x-amz-content-sha256"), Sha256HexOf("x"));
  EXPECT_EQ(r.headers.at("x-amz-security-token"), "token");
}

TEST(S3SignerTest, UriEncodingFollowsSigV4) {
  EXPECT_EQ(UriEncode("a b/c~d_e.f-g+h", true), "a%20b/c~d_e.f-g%2Bh");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
}

TEST(S3SignerTest, CanonicalQueryIsSortedAndEncoded) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "r/archive/"}, {"list-type", "2"}, {"uploads", ""}}),
            "list-type=2&prefix=r%2Farchive%2F&uploads=");
}

TEST(S3XmlTest, ReadsValuesAndDecodesEntities) {
  const std::string xml =
      "<R><Contents><Key>a&amp;b</Key><Size>3</Size></Contents><Contents><Key>c</Key></Contents>"
      "</R>";
  EXPECT_EQ(XmlValue(xml, "Key"), "a&b");
  EXPECT_EQ(XmlValue(xml, "Key", xml.find("<Contents>", 5)), "c");
  EXPECT_EQ(XmlValue(xml, "Missing"), "");
}

core::Config S3Config(std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> o = {{"repository.type", "s3"},
                                          {"s3.endpoint", "https://s3.example.com"},
                                          {"s3.bucket", "b"},
                                          {"repository.path", "/dbmedic/main/"}};
  for (auto& [k, v] : extra) o[k] = v;
  return core::Config::Load(std::nullopt, o, {});
}

TEST(S3SettingsTest, CredentialsFallBackToAwsEnvironment) {
  const S3Settings s = S3SettingsFromConfig(
      S3Config({}), {{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}});
  EXPECT_EQ(s.credentials.access_key, "AK");
  EXPECT_EQ(s.credentials.secret_key, "SK");
  EXPECT_EQ(s.prefix, "dbmedic/main");
  EXPECT_TRUE(s.verify_tls);
  EXPECT_EQ(s.uri_style, S3UriStyle::kHost);
}

TEST(S3SettingsTest, MissingCredentialsAreAConfigError) {
  try {
    S3SettingsFromConfig(S3Config({}), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(), "no S3 credentials: s3.key and s3.key_secret are not set");
  }
}

TEST(S3SettingsTest, AnEndpointThatIsNotAUrlIsRefused) {
  S3Settings s;
  s.endpoint = "s3.example.com";
  try {
    S3Client client(s);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    EXPECT_STREQ(e.what(), "s3.endpoint 's3.example.com' is not a URL");
  }
}

}  // namespace
}  // namespace dbmedic::storage
