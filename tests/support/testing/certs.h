// Test PKI: a self-signed CA and certificates it issues (ECDSA P-256), as PEM.
// Used by the local API server (serving cert, client certs for mTLS tests) and
// by HTTP tests. Never used by the operator itself.
//
//   CertKey ca = *GenerateCa("vmrelease-test-ca");
//   CertKey srv = *IssueCert(ca, "localhost", {"DNS:localhost", "IP:127.0.0.1"}, /*server=*/true);
#pragma once

#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::testing {

struct CertKey {
  std::string cert_pem;
  std::string key_pem;
};

StatusOr<CertKey> GenerateCa(const std::string& common_name);
// `sans` entries are "DNS:name" or "IP:addr". `server` selects serverAuth vs clientAuth.
StatusOr<CertKey> IssueCert(const CertKey& ca, const std::string& common_name,
                            const std::vector<std::string>& sans, bool server,
                            const std::string& organization = "");

}  // namespace vmrelease::testing
