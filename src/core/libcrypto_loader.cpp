// libcrypto (OpenSSL), opened on first use. SHA-256 is dbmedic's own (core/sha256.hpp); what is
// left on OpenSSL is repository encryption (AES-256-GCM, PBKDF2, random keys:
// repo/crypto_key.cpp) and S3 request signing (HMAC-SHA256: storage/s3_signer.cpp). Linked,
// libcrypto cost every dbmedic process ~21,000 relocations at start, `wal push` included. The
// callers keep OpenSSL's headers and API; the functions they call are defined here as forwarders
// to the real ones, looked up once in libcrypto.so.3 (see core/shared_library.hpp). A function a
// caller starts to use must be added here too; the executable then fails to link until it is.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "core/shared_library.hpp"

namespace {

#define DBMEDIC_LIBCRYPTO_FUNCTIONS(X)                                                            \
  X(EVP_CIPHER_CTX_new) X(EVP_CIPHER_CTX_free) X(EVP_CIPHER_CTX_ctrl) X(EVP_EncryptInit_ex)      \
  X(EVP_EncryptUpdate) X(EVP_EncryptFinal_ex) X(EVP_DecryptInit_ex) X(EVP_DecryptUpdate)         \
  X(EVP_DecryptFinal_ex) X(EVP_aes_256_gcm) X(EVP_sha256) X(EVP_Digest) X(HMAC)                  \
  X(PKCS5_PBKDF2_HMAC) X(RAND_bytes)

struct LibCrypto {
#define DBMEDIC_MEMBER(name) decltype(&::name) name;
  DBMEDIC_LIBCRYPTO_FUNCTIONS(DBMEDIC_MEMBER)
#undef DBMEDIC_MEMBER
};

const LibCrypto& Api() {
  // Initialised once, thread-safely; a failure (libcrypto missing) is thrown again on the next
  // call.
  static const LibCrypto api = [] {
    static dbmedic::core::SharedLibrary library(
        "libcrypto.so.3", "repository encryption and S3 request signing (OpenSSL)",
        dbmedic::core::SharedLibrary::InstallHint("libssl3"));
    LibCrypto resolved{};
#define DBMEDIC_RESOLVE(name) resolved.name = library.Function<decltype(&::name)>(#name);
    DBMEDIC_LIBCRYPTO_FUNCTIONS(DBMEDIC_RESOLVE)
#undef DBMEDIC_RESOLVE
    return resolved;
  }();
  return api;
}

}  // namespace

extern "C" {

EVP_CIPHER_CTX* EVP_CIPHER_CTX_new(void) { return Api().EVP_CIPHER_CTX_new(); }
void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX* ctx) { Api().EVP_CIPHER_CTX_free(ctx); }
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX* ctx, int type, int arg, void* ptr) {
  return Api().EVP_CIPHER_CTX_ctrl(ctx, type, arg, ptr);
}
int EVP_EncryptInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl,
                       const unsigned char* key, const unsigned char* iv) {
  return Api().EVP_EncryptInit_ex(ctx, cipher, impl, key, iv);
}
int EVP_EncryptUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in,
                      int inl) {
  return Api().EVP_EncryptUpdate(ctx, out, outl, in, inl);
}
int EVP_EncryptFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl) {
  return Api().EVP_EncryptFinal_ex(ctx, out, outl);
}
int EVP_DecryptInit_ex(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, ENGINE* impl,
                       const unsigned char* key, const unsigned char* iv) {
  return Api().EVP_DecryptInit_ex(ctx, cipher, impl, key, iv);
}
int EVP_DecryptUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, int* outl, const unsigned char* in,
                      int inl) {
  return Api().EVP_DecryptUpdate(ctx, out, outl, in, inl);
}
int EVP_DecryptFinal_ex(EVP_CIPHER_CTX* ctx, unsigned char* outm, int* outl) {
  return Api().EVP_DecryptFinal_ex(ctx, outm, outl);
}
const EVP_CIPHER* EVP_aes_256_gcm(void) { return Api().EVP_aes_256_gcm(); }
const EVP_MD* EVP_sha256(void) { return Api().EVP_sha256(); }
int EVP_Digest(const void* data, size_t count, unsigned char* md, unsigned int* size,
               const EVP_MD* type, ENGINE* impl) {
  return Api().EVP_Digest(data, count, md, size, type, impl);
}
unsigned char* HMAC(const EVP_MD* evp_md, const void* key, int key_len, const unsigned char* data,
                    size_t data_len, unsigned char* md, unsigned int* md_len) {
  return Api().HMAC(evp_md, key, key_len, data, data_len, md, md_len);
}
int PKCS5_PBKDF2_HMAC(const char* pass, int passlen, const unsigned char* salt, int saltlen,
                      int iter, const EVP_MD* digest, int keylen, unsigned char* out) {
  return Api().PKCS5_PBKDF2_HMAC(pass, passlen, salt, saltlen, iter, digest, keylen, out);
}
int RAND_bytes(unsigned char* buf, int num) { return Api().RAND_bytes(buf, num); }

}  // extern "C"
