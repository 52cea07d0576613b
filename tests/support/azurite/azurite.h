// Test fixture: a real Azurite blob service (.tools/bin/azurite-blob) on
// 127.0.0.1 with a free port and a private temp workspace, for tests and
// benchmarks that must talk to a real Blob REST endpoint.
//
//   auto azurite = *Azurite::Start();                 // waits until it answers
//   auto client = *BlobClient::Create({.account_url = azurite->account_url()},
//                                     SharedKeyAuth(*SharedKeySigner::Create(
//                                         kAzuriteAccount, kAzuriteKey)));
//   ...                                              // stopped and deleted on destruction
//
// With {.https = true, .oauth = true} it serves HTTPS with a throw-away CA
// (ca_pem()) and accepts bearer tokens ("--oauth basic": any unexpired JWT
// with a storage audience and an Entra issuer; the signature is not checked),
// which is how user-delegation SAS is exercised without Entra ID.
// Azurite's own console output goes to log_path(), never to the test output:
// its access log would contain SAS query strings.
#pragma once

#include <memory>
#include <string>

#include "controller/common/status.h"
#include "tests/support/testing/process.h"

namespace vmrelease::testing {

// Azurite's well-known development account (public, documented by Microsoft).
inline constexpr const char* kAzuriteAccount = "devstoreaccount1";
inline constexpr const char* kAzuriteKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

class Azurite {
 public:
  struct Options {
    bool https = false;
    bool oauth = false;  // requires https
    bool in_memory = false;
  };
  // Errors: kNotFound when azurite-blob is not installed (run scripts/setup.sh),
  // kDeadlineExceeded when it does not answer within 60 s (log tail included).
  static StatusOr<std::unique_ptr<Azurite>> Start(Options options);
  static StatusOr<std::unique_ptr<Azurite>> Start() { return Start(Options{}); }
  ~Azurite();
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:PORT/devstoreaccount1" (path-style).
  std::string account_url() const;
  // Connection string for az CLI / SDKs.
  std::string connection_string() const;
  // PEM of the CA that signed the HTTPS certificate ("" without https).
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& log_path() const { return log_path_; }
  const std::string& workspace() const { return workspace_; }
  // SIGTERM, then SIGKILL after 2 s. Idempotent.
  void Stop();
  // Stops Azurite (if it runs) and starts it again on the same port with the
  // same workspace, so clients keep their URLs and the blobs survive (an
  // in-memory Azurite comes back empty). Waits until it answers.
  Status Restart();

 private:
  Azurite() = default;
  // Starts the process on port_ (0: any free port, learnt from its log) and waits for it.
  Status Launch();
  Options options_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Subprocess> process_;
  std::string workspace_;
  std::string log_path_;
  std::string ca_pem_;
  std::string scheme_ = "http";
  int port_ = 0;
};

}  // namespace vmrelease::testing
