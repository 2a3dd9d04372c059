#include "tests/support/test_certificates.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace plumb::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& parent) {
  std::string dir_template = parent + "/plumb-certs-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string dir = dir_template;
  // Each certificate is signed by its CA with the extensions gRPC's TLS stack expects.
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "'\n",
      "ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj \"/CN=$1\" "
      "-keyout $1.key -out $1.pem -addext basicConstraints=critical,CA:TRUE "
      "-addext keyUsage=critical,keyCertSign,cRLSign; }\n",
      "leaf() { openssl req -newkey rsa:2048 -nodes -subj \"/CN=$2\" -keyout $1.key -out $1.csr;"
      " printf '%s\\n' \"$4\" > $1.ext;"
      " openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -CAcreateserial -days 2 "
      "-extfile $1.ext -out $1.pem; }\n",
      "ca plumb-test-ca; ca rogue-ca\n",
      "leaf server localhost plumb-test-ca 'subjectAltName=DNS:localhost,IP:127.0.0.1'\n",
      "leaf client plumb-test-client plumb-test-ca 'extendedKeyUsage=clientAuth'\n",
      "leaf rogue rogue-client rogue-ca 'extendedKeyUsage=clientAuth'\n");
  const std::string script_path = dir + "/make.sh";
  std::ofstream(script_path) << script;
  const std::string log = dir + "/openssl.log";
  if (std::system(absl::StrCat("bash '", script_path, "' > '", log, "' 2>&1").c_str()) != 0) {
    return absl::InternalError(absl::StrCat("making test certificates failed:\n", Slurp(log)));
  }
  TestCertificates certs;
  certs.dir = dir;
  certs.ca_pem = Slurp(dir + "/plumb-test-ca.pem");
  certs.server_cert_pem = Slurp(dir + "/server.pem");
  certs.server_key_pem = Slurp(dir + "/server.key");
  certs.client_cert_pem = Slurp(dir + "/client.pem");
  certs.client_key_pem = Slurp(dir + "/client.key");
  certs.rogue_client_cert_pem = Slurp(dir + "/rogue.pem");
  certs.rogue_client_key_pem = Slurp(dir + "/rogue.key");
  return certs;
}

}  // namespace plumb::testing
