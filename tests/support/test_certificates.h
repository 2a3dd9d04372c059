// Certificates for TLS tests, made with the openssl command line in a temporary folder: a CA,
// a server certificate for localhost/127.0.0.1 signed by it, a client certificate (CN
// "plumb-test-client") signed by it, and a client certificate from an unrelated CA.
#ifndef PLUMB_TESTS_SUPPORT_TEST_CERTIFICATES_H_
#define PLUMB_TESTS_SUPPORT_TEST_CERTIFICATES_H_

#include <string>

#include "absl/status/statusor.h"

namespace plumb::testing {

struct TestCertificates {
  std::string ca_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string rogue_client_cert_pem;  // signed by a CA the server does not trust
  std::string rogue_client_key_pem;
  std::string dir;  // where the PEM files are
};

// Generates the set in a fresh folder under `parent`. Fails with the openssl output if the tool
// is missing or refuses.
absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& parent);

}  // namespace plumb::testing

#endif  // PLUMB_TESTS_SUPPORT_TEST_CERTIFICATES_H_
