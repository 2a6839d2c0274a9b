#include "core/sas_token.h"

#include <doctest/doctest.h>

namespace iothub {
namespace {

struct SdkVector {
  const char* name;
  const char* resource;  // decoded sr
  const char* key;
  const char* token;
};

// Tokens made by the official Node.js SDK (tests/compat/tools/make_sas_vectors.js).
const SdkVector kNodeSdkVectors[] = {
#include "unit/core/sas_vectors_from_node_sdk.inc"
};

}  // namespace

TEST_CASE("SAS: tokens made by the official Node.js SDK verify with their key and no other") {
  for (const auto& v : kNodeSdkVectors) {
    CAPTURE(v.name);
    auto token = ParseSasToken(v.token);
    REQUIRE(token.ok());
    CHECK(token->resource == v.resource);
    CHECK(SasSignatureMatches(*token, v.key));
    CHECK_FALSE(SasSignatureMatches(*token, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  }
}

TEST_CASE("SAS: our tokens are byte-identical to the SDK's where the resource needs no strict encoding") {
  for (const auto& v : kNodeSdkVectors) {
    CAPTURE(v.name);
    auto sdk = ParseSasToken(v.token).value();
    if (sdk.resource_as_sent.find("%2a") != std::string::npos || sdk.resource_as_sent == sdk.resource) continue;
    CHECK(CreateSasToken(v.resource, v.key, sdk.expiry, sdk.key_name) == v.token);
  }
}

TEST_CASE("SAS: the signature covers sr exactly as sent, not a re-encoding of it") {
  // Same resource, encoded two ways: each verifies only as itself.
  std::string key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  auto sig = SignSas("localhost%2fdevices%2fd1", 2000000000, key).value();
  auto lower_token = ParseSasToken("SharedAccessSignature sr=localhost%2fdevices%2fd1&sig=" + sig + "&se=2000000000");
  REQUIRE(lower_token.ok());
  CHECK(lower_token->resource == "localhost/devices/d1");
  CHECK(SasSignatureMatches(*lower_token, key));
  auto upper_token = ParseSasToken("SharedAccessSignature sr=localhost%2Fdevices%2Fd1&sig=" + sig + "&se=2000000000");
  CHECK_FALSE(SasSignatureMatches(*upper_token, key));
}

TEST_CASE("SAS: fields may come in any order") {
  auto a = ParseSasToken("SharedAccessSignature sig=abc&se=10&skn=owner&sr=host");
  REQUIRE(a.ok());
  CHECK(a->resource == "host");
  CHECK(a->signature == "abc");
  CHECK(a->expiry == 10);
  CHECK(a->key_name == "owner");
}

TEST_CASE("SAS: malformed tokens are refused as unauthorized") {
  const char* bad[] = {
      "",
      "Bearer abc",
      "SharedAccessSignature sr=host&sig=abc",            // no se
      "SharedAccessSignature sig=abc&se=10",              // no sr
      "SharedAccessSignature sr=host&se=10",              // no sig
      "SharedAccessSignature sr=host&sig=abc&se=soon",    // se not a number
      "SharedAccessSignature sr=host&sig=abc&se=10x",
      "SharedAccessSignature sr=ho%zzst&sig=abc&se=10",   // broken escape
      "SharedAccessSignature sr",
  };
  for (const char* text : bad) {
    CAPTURE(text);
    auto token = ParseSasToken(text);
    REQUIRE_FALSE(token.ok());
    CHECK(token.status().code() == ErrorCode::kIotHubUnauthorizedAccess);
  }
}

TEST_CASE("SAS: a key that is not base64 signs nothing") {
  CHECK_FALSE(SignSas("host", 10, "not base64!").has_value());
}

}  // namespace iothub
