// kubeconfig and in-cluster configuration; token-file rotation (ManualClock).
#include "controller/kube/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "tests/support/testing/process.h"

namespace vmrelease::kube {
namespace {

using std::chrono::seconds;
using ::vmrelease::testing::TempDir;
using ::vmrelease::testing::WriteFile;

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCertPem[] = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

std::string FullKubeconfig() {
  return R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example.invalid:6443/
    certificate-authority-data: )" +
         Base64Encode(kCaPem) + R"(
- name: files-cluster
  cluster:
    server: https://files.example.invalid
    certificate-authority: pki/ca.crt
    insecure-skip-tls-verify: true
users:
- name: token-user
  user:
    token: inline-token-123456
- name: cert-files
  user:
    client-certificate: pki/client.crt
    client-key: pki/client.key
- name: cert-data
  user:
    client-certificate-data: )" +
         Base64Encode(kCertPem) + R"(
    client-key-data: )" +
         Base64Encode(kKeyPem) + R"(
- name: token-file
  user:
    tokenFile: secrets/token
    token: ignored-inline-token
contexts:
- name: dev
  context: {cluster: dev-cluster, user: token-user, namespace: images}
- name: files
  context: {cluster: files-cluster, user: cert-files}
- name: data
  context: {cluster: dev-cluster, user: cert-data}
- name: tokenfile
  context: {cluster: dev-cluster, user: token-file}
)";
}

struct KubeconfigDir {
  TempDir dir;
  std::string path;
  KubeconfigDir() {
    std::filesystem::create_directories(dir.Join("conf/pki"));
    std::filesystem::create_directories(dir.Join("conf/secrets"));
    WriteFile(dir.Join("conf/pki/ca.crt"), kCaPem);
    WriteFile(dir.Join("conf/pki/client.crt"), kCertPem);
    WriteFile(dir.Join("conf/pki/client.key"), kKeyPem);
    WriteFile(dir.Join("conf/secrets/token"), "file-token-1\n");
    path = dir.Join("conf/kubeconfig");
    WriteFile(path, FullKubeconfig());
  }
};

TEST(KubeconfigTest, CurrentContextWithInlineTokenAndCaData) {
  KubeconfigDir k;
  auto cfg = LoadKubeconfig({.path = k.path});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://dev.example.invalid:6443");  // trailing slash dropped
  EXPECT_EQ(cfg->tls.ca_pem, kCaPem);
  EXPECT_FALSE(cfg->tls.insecure_skip_verify);
  EXPECT_TRUE(cfg->tls.client_cert_pem.empty());
  ASSERT_NE(cfg->token, nullptr);
  EXPECT_FALSE(cfg->token->rotates());
  EXPECT_EQ(*cfg->token->Token(), "inline-token-123456");
  EXPECT_EQ(cfg->ns, "images");
  EXPECT_NE(cfg->source.find("context dev"), std::string::npos);
}

TEST(KubeconfigTest, ExplicitContextWithFilesRelativeToTheKubeconfig) {
  KubeconfigDir k;
  // Load from another working directory: paths must resolve against the file.
  auto cfg = LoadKubeconfig({.path = k.path, .context = "files"});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://files.example.invalid");
  EXPECT_EQ(cfg->tls.ca_pem, kCaPem);
  EXPECT_TRUE(cfg->tls.insecure_skip_verify);
  EXPECT_EQ(cfg->tls.client_cert_pem, kCertPem);
  EXPECT_EQ(cfg->tls.client_key_pem, kKeyPem);
  EXPECT_EQ(cfg->token, nullptr);
  EXPECT_EQ(cfg->ns, "default");  // context without namespace
}

TEST(KubeconfigTest, ClientCertificateData) {
  KubeconfigDir k;
  auto cfg = LoadKubeconfig({.path = k.path, .context = "data"});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->tls.client_cert_pem, kCertPem);
  EXPECT_EQ(cfg->tls.client_key_pem, kKeyPem);
}

TEST(KubeconfigTest, TokenFileWinsAndIsReReadWhenItRotates) {
  KubeconfigDir k;
  ManualClock clock;
  auto cfg = LoadKubeconfig(
      {.path = k.path, .context = "tokenfile", .clock = &clock, .token_refresh = seconds(60)});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_NE(cfg->token, nullptr);
  EXPECT_TRUE(cfg->token->rotates());
  EXPECT_EQ(cfg->token->path(), k.dir.Join("conf/secrets/token"));
  EXPECT_EQ(*cfg->token->Token(), "file-token-1");

  WriteFile(k.dir.Join("conf/secrets/token"), "file-token-2");
  clock.Advance(seconds(59));
  EXPECT_EQ(*cfg->token->Token(), "file-token-1");  // checked at most every 60s
  clock.Advance(seconds(1));
  EXPECT_EQ(*cfg->token->Token(), "file-token-2");

  // A 401 makes the client invalidate: the next call re-reads at once.
  WriteFile(k.dir.Join("conf/secrets/token"), "file-token-3");
  EXPECT_EQ(*cfg->token->Token(), "file-token-2");
  cfg->token->Invalidate();
  EXPECT_EQ(*cfg->token->Token(), "file-token-3");
  // The current and the previous token stay redacted; older ones are dropped
  // from the redaction list so it does not grow with every rotation.
  EXPECT_EQ(log::Redact("file-token-1"), "file-token-1");
  EXPECT_NE(log::Redact("file-token-2"), "file-token-2");
  EXPECT_NE(log::Redact("file-token-3"), "file-token-3");

  // A file missing mid-rotation keeps the last good token.
  std::filesystem::remove(k.dir.Join("conf/secrets/token"));
  cfg->token->Invalidate();
  EXPECT_EQ(*cfg->token->Token(), "file-token-3");
}

TEST(KubeconfigTest, KubeconfigEnvListIsMergedFirstFileWins) {
  TempDir dir;
  WriteFile(dir.Join("a"), R"(
current-context: first
clusters: [{name: c, cluster: {server: "https://first.invalid"}}]
users: [{name: u, user: {token: first-token-abcdef}}]
contexts: [{name: first, context: {cluster: c, user: u}}]
)");
  WriteFile(dir.Join("b"), R"(
current-context: second
clusters:
- {name: c, cluster: {server: "https://second.invalid"}}
- {name: only-b, cluster: {server: "https://only-b.invalid"}}
users: [{name: u, user: {token: second-token-abcdef}}]
contexts:
- {name: second, context: {cluster: only-b, user: u, namespace: b}}
)");
  ScopedEnv env("KUBECONFIG", dir.Join("a") + ":" + dir.Join("missing") + ":" + dir.Join("b"));
  auto cfg = LoadKubeconfig({});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://first.invalid");
  EXPECT_EQ(*cfg->token->Token(), "first-token-abcdef");
  // A context only in the second file, with the first file's user "u".
  cfg = LoadKubeconfig({.context = "second"});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://only-b.invalid");
  EXPECT_EQ(*cfg->token->Token(), "first-token-abcdef");
  EXPECT_EQ(cfg->ns, "b");
  // LoadDefaultConfig picks the kubeconfig when KUBECONFIG is set.
  auto def = LoadDefaultConfig({});
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->server, "https://first.invalid");
}

struct BadCase {
  std::string name;
  std::string yaml;     // written as the kubeconfig; "<none>" = file missing
  std::string context;  // explicit context
  std::string expect;   // substring of the error message
};

class KubeconfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(KubeconfigErrorTest, SaysWhatIsWrongAndWhere) {
  const BadCase& tc = GetParam();
  TempDir dir;
  const std::string path = dir.Join("kubeconfig");
  if (tc.yaml != "<none>") WriteFile(path, tc.yaml);
  auto cfg = LoadKubeconfig({.path = path, .context = tc.context});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find(tc.expect), std::string::npos) << cfg.status().message();
  if (tc.yaml != "<none>") {
    EXPECT_NE(cfg.status().message().find(path), std::string::npos)
        << "error should name the file: " << cfg.status().message();
  }
}

const char kBase[] = R"(
clusters: [{name: c, cluster: {server: "https://ok.invalid"}}]
users: [{name: u, user: {token: t-123456789}}]
)";

INSTANTIATE_TEST_SUITE_P(
    Errors, KubeconfigErrorTest,
    ::testing::Values(
        BadCase{"MissingFile", "<none>", "", "cannot be read"},
        BadCase{"NotYaml", "clusters: [unclosed", "", "not valid YAML"},
        BadCase{"NotAMapping", "- a\n- b\n", "", "not a YAML mapping"},
        BadCase{"NoCurrentContext", std::string(kBase) + "contexts: []\n", "",
                "no current-context set"},
        BadCase{"UnknownContext", std::string(kBase) + "current-context: nope\n", "",
                "context \"nope\" not found"},
        BadCase{"UnknownCluster",
                std::string(kBase) + "contexts: [{name: x, context: {cluster: gone, user: u}}]\n",
                "x", "cluster \"gone\" not found"},
        BadCase{"UnknownUser",
                std::string(kBase) + "contexts: [{name: x, context: {cluster: c, user: gone}}]\n",
                "x", "user \"gone\" not found"},
        BadCase{"EmptyServer",
                "clusters: [{name: c, cluster: {}}]\n"
                "contexts: [{name: x, context: {cluster: c}}]\n",
                "x", "server is empty"},
        BadCase{"BadServer",
                "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n"
                "contexts: [{name: x, context: {cluster: c}}]\n",
                "x", "is not an http(s) URL"},
        BadCase{"BadBase64",
                "clusters: [{name: c, cluster: {server: 'https://x', "
                "certificate-authority-data: '%%%'}}]\n"
                "contexts: [{name: x, context: {cluster: c}}]\n",
                "x", "certificate-authority-data is not valid base64"},
        BadCase{"MissingCaFile",
                "clusters: [{name: c, cluster: {server: 'https://x', "
                "certificate-authority: nope/ca.crt}}]\n"
                "contexts: [{name: x, context: {cluster: c}}]\n",
                "x", "certificate-authority"},
        BadCase{"CertWithoutKey",
                std::string("clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                            "users: [{name: u, user: {client-certificate-data: ") +
                    Base64Encode("x") +
                    "}}]\n"
                    "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                "x", "client-certificate and client-key must be set together"},
        BadCase{"MissingTokenFile",
                "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n"
                "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                "x", "tokenFile"},
        BadCase{"ExecPlugin",
                "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                "users: [{name: u, user: {exec: {command: kubelogin}}}]\n"
                "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                "x", "exec is not supported"},
        BadCase{"BadSkipVerify",
                "clusters: [{name: c, cluster: {server: 'https://x', "
                "insecure-skip-tls-verify: maybe}}]\n"
                "contexts: [{name: x, context: {cluster: c}}]\n",
                "x", "insecure-skip-tls-verify must be true or false"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

struct ServiceAccountDir {
  TempDir dir;
  ServiceAccountDir() {
    WriteFile(dir.Join("token"), "sa-token-aaaaaaaa\n");
    WriteFile(dir.Join("ca.crt"), kCaPem);
    WriteFile(dir.Join("namespace"), "vmrelease-system\n");
  }
};

TEST(InClusterTest, ReadsServiceAccountFilesAndRotatesTheToken) {
  ServiceAccountDir sa;
  ManualClock clock;
  auto cfg =
      LoadInCluster({.root = sa.dir.path(), .host = "10.0.0.1", .port = "443", .clock = &clock});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://10.0.0.1:443");
  EXPECT_EQ(cfg->tls.ca_pem, kCaPem);
  EXPECT_EQ(cfg->ns, "vmrelease-system");
  EXPECT_EQ(*cfg->token->Token(), "sa-token-aaaaaaaa");
  WriteFile(sa.dir.Join("token"), "sa-token-bbbbbbbb");
  clock.Advance(seconds(60));  // client-go's one-minute re-read
  EXPECT_EQ(*cfg->token->Token(), "sa-token-bbbbbbbb");
}

TEST(InClusterTest, UsesTheEnvironmentAndBracketsIpv6) {
  ServiceAccountDir sa;
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00::1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
  auto cfg = LoadInCluster({.root = sa.dir.path()});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://[fd00::1]:6443");
}

TEST(InClusterTest, ExplainsWhatIsMissing) {
  ServiceAccountDir sa;
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto cfg = LoadInCluster({.root = sa.dir.path()});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  cfg = LoadInCluster({.root = sa.dir.Join("nope"), .host = "h", .port = "1"});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find(sa.dir.Join("nope") + "/token"), std::string::npos)
      << cfg.status().message();
}

TEST(DefaultConfigTest, PrefersInClusterOverTheHomeKubeconfig) {
  KubeconfigDir k;
  TempDir home;
  std::filesystem::create_directories(home.Join(".kube"));
  WriteFile(home.Join(".kube/config"), FullKubeconfig());
  ScopedEnv h("HOME", home.path());
  ScopedEnv kc("KUBECONFIG", "");
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    auto cfg = LoadDefaultConfig({});
    // No service account here: the error shows in-cluster config was chosen.
    ASSERT_FALSE(cfg.ok());
    EXPECT_NE(cfg.status().message().find("in-cluster config"), std::string::npos)
        << cfg.status().message();
  }
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto cfg = LoadDefaultConfig({});
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->server, "https://dev.example.invalid:6443");
  // An explicit path always wins.
  cfg = LoadDefaultConfig({.path = k.path, .context = "files"});
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->server, "https://files.example.invalid");
}

TEST(DefaultConfigTest, ExplainsWhatWasTriedWhenNothingIsConfigured) {
  TempDir home;
  ScopedEnv h("HOME", home.path());
  ScopedEnv k("KUBECONFIG", "");
  unsetenv("KUBERNETES_SERVICE_HOST");
  auto cfg = LoadDefaultConfig({});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("--kubeconfig"), std::string::npos);
}

}  // namespace
}  // namespace vmrelease::kube
