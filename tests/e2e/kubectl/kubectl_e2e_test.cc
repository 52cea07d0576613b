// Real kubectl v1.32 with its default flags against the local API server:
// CRD apply, client-side apply (created / unchanged / configured), get with
// printer columns and -o yaml, get --watch, patch, wait, delete, explain,
// schema and strict-field rejections, the built-ins the operator uses, and the
// Deployment and RBAC kinds its install manifests use.
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "tests/support/apiserver/fixture.h"

namespace vmrelease::testing {
namespace {

using nlohmann::json;

std::string Testdata(const std::string& rel) {
  return SourceDir() + "/tests/testdata/apiserver/" + rel;
}

const char kWidget[] = R"(apiVersion: example.com/v1alpha1
kind: Widget
metadata:
  name: sample
  labels: {app: demo}
spec:
  image: sql-baseline
  version: 1.3.0
  replicas: 2
)";

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = LocalApiServer::Start();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s.value());
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- apiserver log ---\n" << server_->log() << "\n";
  }
  // Runs kubectl and expects success; returns stdout.
  std::string Ok(const std::vector<std::string>& args, const std::string& in = "") {
    CommandResult r = server_->Kubectl(args, in);
    EXPECT_EQ(r.exit_code, 0) << "kubectl " << Join(args) << "\nstdout: " << r.out
                              << "\nstderr: " << r.err;
    return r.out;
  }
  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + " ";
    return s;
  }
  void ApplyCrdAndWidget() {
    EXPECT_EQ(Ok({"apply", "-f", Testdata("crds/widgets.example.com.yaml")}),
              "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created\n");
    EXPECT_EQ(Ok({"apply", "-f", "-"}, kWidget), "widget.example.com/sample created\n");
  }

  std::unique_ptr<LocalApiServer> server_;
};

TEST_F(KubectlTest, ApplyIsCreatedThenUnchangedThenConfigured) {
  ApplyCrdAndWidget();
  EXPECT_EQ(Ok({"apply", "-f", "-"}, kWidget), "widget.example.com/sample unchanged\n");
  std::string edited =
      std::regex_replace(std::string(kWidget), std::regex("replicas: 2"), "replicas: 4");
  EXPECT_EQ(Ok({"apply", "-f", "-"}, edited), "widget.example.com/sample configured\n");
  EXPECT_EQ(
      Ok({"get", "widget", "sample", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"}),
      "4 2");
  // The example file from testdata applies too (a second object).
  EXPECT_EQ(Ok({"apply", "-f", Testdata("examples/widget.yaml")}),
            "widget.example.com/sample configured\n");
}

TEST_F(KubectlTest, GetShowsPrinterColumnsShortNamesAndYaml) {
  ApplyCrdAndWidget();
  std::string table = Ok({"get", "widgets"});
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(^NAME\s+VERSION\s+REPLICAS\s+READY\s+AGE\n)")))
      << table;
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(\nsample\s+1\.3\.0\s+2\s+\d+s\n)"))) << table;
  EXPECT_NE(Ok({"get", "wg"}).find("sample"), std::string::npos);  // short name
  EXPECT_NE(Ok({"get", "examples"}).find("sample"),
            std::string::npos);  // category
  std::string yaml = Ok({"get", "widget", "sample", "-o", "yaml"});
  EXPECT_NE(yaml.find("apiVersion: example.com/v1alpha1"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("version: 1.3.0"), std::string::npos);
  EXPECT_NE(yaml.find("mode: Safe"), std::string::npos) << "schema default applied";
  EXPECT_NE(yaml.find("resourceVersion:"), std::string::npos);
  EXPECT_NE(yaml.find("uid:"), std::string::npos);
  std::string crds = Ok({"get", "crds"});
  EXPECT_NE(crds.find("widgets.example.com"), std::string::npos);
}

TEST_F(KubectlTest, GetWatchStreamsChangesMadeByAnotherClient) {
  ApplyCrdAndWidget();
  TempDir dir;
  const std::string out = dir.Join("watch.out");
  std::vector<std::string> argv = {ToolPath("kubectl"), "get", "widget", "sample", "--watch"};
  auto proc = Subprocess::Start(argv, server_->KubectlEnv(), out);
  ASSERT_TRUE(proc.ok());
  ASSERT_TRUE(WaitFor([&] { return ReadFile(out).find("sample") != std::string::npos; },
                      std::chrono::seconds(30)))
      << ReadFile(out);
  auto r = server_->Request("PATCH", "/apis/example.com/v1alpha1/namespaces/default/widgets/sample",
                            R"({"spec":{"replicas":7}})", "application/merge-patch+json");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(WaitFor(
      [&] { return std::regex_search(ReadFile(out), std::regex(R"(sample\s+1\.3\.0\s+7\s)")); },
      std::chrono::seconds(30)))
      << ReadFile(out);
  (*proc)->Signal(SIGKILL);
  auto code = (*proc)->Wait(std::chrono::seconds(10));
  EXPECT_TRUE(code.ok());
  const std::string text = ReadFile(out);
  EXPECT_EQ(text.find("NAME"), 0u) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << "header, initial row, modified row:\n"
                                                           << text;
}

TEST_F(KubectlTest, PatchWaitAndDelete) {
  ApplyCrdAndWidget();
  EXPECT_EQ(
      Ok({"patch", "widget", "sample", "--type", "merge", "-p", R"({"spec":{"replicas":3}})"}),
      "widget.example.com/sample patched\n");
  EXPECT_EQ(Ok({"get", "widget", "sample", "-o", "jsonpath={.spec.replicas}"}), "3");
  TempDir dir;
  const std::string out = dir.Join("wait.out");
  auto wait = Subprocess::Start(
      {ToolPath("kubectl"), "wait", "--for=condition=Ready", "widget/sample", "--timeout=60s"},
      server_->KubectlEnv(), out);
  ASSERT_TRUE(wait.ok());
  // kubectl wait must really be waiting: the condition is not there yet.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE((*wait)->Running()) << ReadFile(out);
  auto st = server_->Request(
      "PATCH", "/apis/example.com/v1alpha1/namespaces/default/widgets/sample/status",
      R"({"status":{"conditions":[{"type":"Ready","status":"True","reason":"Released","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z"}]}})",
      "application/merge-patch+json");
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(st->status, 200) << st->body;
  auto code = (*wait)->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << ReadFile(out);
  EXPECT_NE(ReadFile(out).find("widget.example.com/sample condition met"), std::string::npos)
      << ReadFile(out);
  EXPECT_TRUE(
      std::regex_search(Ok({"get", "widgets"}), std::regex(R"(sample\s+1\.3\.0\s+3\s+True\s)")));
  EXPECT_EQ(Ok({"delete", "widget", "sample"}), "widget.example.com \"sample\" deleted\n");
  CommandResult gone = server_->Kubectl({"get", "widget", "sample"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("NotFound"), std::string::npos) << gone.err;
}

TEST_F(KubectlTest, ExplainShowsSchemaDescriptions) {
  ApplyCrdAndWidget();
  std::string spec = Ok({"explain", "widget.spec"});
  EXPECT_NE(spec.find("KIND:       Widget"), std::string::npos) << spec;
  EXPECT_NE(spec.find("WidgetSpec is the desired state of a widget."), std::string::npos) << spec;
  EXPECT_NE(spec.find("How many copies to keep."), std::string::npos) << spec;
  EXPECT_TRUE(std::regex_search(spec, std::regex(R"(image\s+<string> -required-)"))) << spec;
  std::string field = Ok({"explain", "widget.spec.version"});
  EXPECT_NE(field.find("Semantic version MAJOR.MINOR.PATCH."), std::string::npos) << field;
}

TEST_F(KubectlTest, SchemaViolationsAndUnknownFieldsAreRejected) {
  ApplyCrdAndWidget();
  CommandResult bad = server_->Kubectl({"apply", "-f", "-"}, R"(apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: bad}
spec:
  version: "1.2"
  replicas: 11
)");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find(R"(The Widget "bad" is invalid)"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("spec.image: Required value"), std::string::npos) << bad.err;
  EXPECT_NE(
      bad.err.find(
          R"(spec.version: Invalid value: "1.2": spec.version in body should match '^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$')"),
      std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("spec.replicas: Invalid value: 11: spec.replicas in body should be less "
                         "than or equal to 10"),
            std::string::npos)
      << bad.err;
  CommandResult unknown = server_->Kubectl({"apply", "-f", "-"}, R"(apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: unk}
spec: {image: x, version: 1.0.0, foo: bar}
)");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find(R"(strict decoding error: unknown field "spec.foo")"),
            std::string::npos)
      << unknown.err;
  CommandResult missing = server_->Kubectl({"get", "widget", "bad"});
  EXPECT_NE(missing.exit_code, 0);
}

TEST_F(KubectlTest, BuiltinsConfigMapsSecretsNamespacesLeases) {
  EXPECT_EQ(Ok({"create", "namespace", "team-a"}), "namespace/team-a created\n");
  EXPECT_EQ(Ok({"create", "configmap", "settings", "-n", "team-a", "--from-literal=mode=fast"}),
            "configmap/settings created\n");
  EXPECT_EQ(Ok({"create", "secret", "generic", "creds", "-n", "team-a",
                "--from-literal=password=s3cret"}),
            "secret/creds created\n");
  EXPECT_EQ(Ok({"create", "-f", "-"}, R"(apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader, namespace: team-a}
spec: {holderIdentity: pod-1, leaseDurationSeconds: 15}
)"),
            "lease.coordination.k8s.io/leader created\n");
  EXPECT_EQ(Ok({"get", "configmap", "settings", "-n", "team-a", "-o", "jsonpath={.data.mode}"}),
            "fast");
  EXPECT_EQ(Ok({"get", "secret", "creds", "-n", "team-a", "-o", "jsonpath={.data.password}"}),
            "czNjcmV0");
  EXPECT_TRUE(std::regex_search(Ok({"get", "secret", "-n", "team-a"}),
                                std::regex(R"(creds\s+Opaque\s+1\s)")));
  EXPECT_TRUE(
      std::regex_search(Ok({"get", "leases", "-n", "team-a"}), std::regex(R"(leader\s+pod-1\s)")));
  EXPECT_TRUE(std::regex_search(Ok({"get", "ns"}), std::regex(R"(team-a\s+Active\s)")));
  CommandResult dup = server_->Kubectl({"create", "configmap", "settings", "-n", "team-a"});
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.err.find(R"(configmaps "settings" already exists)"), std::string::npos) << dup.err;
  CommandResult no_ns = server_->Kubectl({"create", "configmap", "x", "-n", "missing"});
  EXPECT_NE(no_ns.exit_code, 0);
  EXPECT_NE(no_ns.err.find(R"(namespaces "missing" not found)"), std::string::npos) << no_ns.err;
  // An events.k8s.io/v1 Event (what the operator records) shows in `kubectl get events`.
  auto ev = server_->Request("POST", "/apis/events.k8s.io/v1/namespaces/team-a/events", R"({
    "metadata": {"name": "settings.1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
    "reportingController": "vmrelease.io/controller", "reportingInstance": "pod-1",
    "action": "Sync", "reason": "Synced", "type": "Normal", "note": "settings synced",
    "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "name": "settings", "namespace": "team-a"}})");
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->status, 201) << ev->body;
  EXPECT_TRUE(
      std::regex_search(Ok({"get", "events", "-n", "team-a"}),
                        std::regex(R"(Normal\s+Synced\s+configmap/settings\s+settings synced)")));
  EXPECT_EQ(Ok({"delete", "namespace", "team-a"}), "namespace \"team-a\" deleted\n");
  EXPECT_NE(server_->Kubectl({"get", "configmap", "settings", "-n", "team-a"}).exit_code, 0);
}

// apps/v1 Deployments and the rbac.authorization.k8s.io/v1 kinds, as the install manifests
// (deploy/, helm/) use them: a server dry run validates without storing, apply stores with
// the apiserver's defaults, `get` prints kubectl's columns, and invalid objects and
// immutable-field changes are refused with the apiserver's messages.
TEST_F(KubectlTest, DeploymentsAndRbac) {
  const std::string manifests = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: ctl, namespace: default}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leases, namespace: default}
rules:
  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leases, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leases}
subjects: [{kind: ServiceAccount, name: ctl}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ctl, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: ctl}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 100%, maxUnavailable: 100%}}
  template:
    metadata: {labels: {app: ctl}}
    spec:
      containers: [{name: controller, image: "example/ctl:1.0"}]
)";
  EXPECT_EQ(Ok({"apply", "--dry-run=server", "-f", "-"}, manifests),
            "clusterrole.rbac.authorization.k8s.io/reader created (server dry run)\n"
            "clusterrolebinding.rbac.authorization.k8s.io/reader created (server dry run)\n"
            "role.rbac.authorization.k8s.io/leases created (server dry run)\n"
            "rolebinding.rbac.authorization.k8s.io/leases created (server dry run)\n"
            "deployment.apps/ctl created (server dry run)\n");
  EXPECT_NE(server_->Kubectl({"get", "deployment", "ctl"}).exit_code, 0)
      << "a dry run stores nothing";
  Ok({"apply", "-f", "-"}, manifests);
  EXPECT_TRUE(std::regex_search(Ok({"get", "deploy"}), std::regex(R"(ctl\s+0/2\s+0\s+0\s)")));
  EXPECT_EQ(Ok({"get", "deployment", "ctl", "-o",
                "jsonpath={.metadata.generation} {.spec.revisionHistoryLimit} "
                "{.spec.template.spec.restartPolicy} {.spec.strategy.rollingUpdate.maxSurge}"}),
            "1 10 Always 100%");
  EXPECT_TRUE(std::regex_search(Ok({"get", "clusterrolebinding", "reader"}),
                                std::regex(R"(reader\s+ClusterRole/reader\s)")));
  EXPECT_EQ(Ok({"get", "role", "leases", "-o", "jsonpath={.rules[0].verbs}"}),
            R"(["get","update"])");
  EXPECT_NE(Ok({"get", "all"}).find("deployment.apps/ctl"), std::string::npos);

  // Refused as kube-apiserver refuses them.
  CommandResult mismatch = server_->Kubectl({"apply", "--dry-run=server", "-f", "-"},
                                            R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: default}
spec:
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: ctl}}
    spec: {containers: [{name: c, image: i}]}
)");
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.err.find("`selector` does not match template `labels`"), std::string::npos)
      << mismatch.err;
  CommandResult no_verbs = server_->Kubectl({"apply", "--dry-run=server", "-f", "-"},
                                            R"(apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: empty}
rules: [{apiGroups: [""], resources: [pods]}]
)");
  EXPECT_NE(no_verbs.exit_code, 0);
  EXPECT_NE(no_verbs.err.find("rules[0].verbs: Required value"), std::string::npos) << no_verbs.err;
  CommandResult moved = server_->Kubectl(
      {"patch", "rolebinding", "leases", "--type=merge", "-p", R"({"roleRef":{"name":"other"}})"});
  EXPECT_NE(moved.exit_code, 0);
  EXPECT_NE(moved.err.find("cannot change roleRef"), std::string::npos) << moved.err;
  CommandResult reselect = server_->Kubectl(
      {"patch", "deployment", "ctl", "--type=merge", "-p",
       R"({"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}}}}})"});
  EXPECT_NE(reselect.exit_code, 0);
  EXPECT_NE(reselect.err.find("spec.selector: Invalid value"), std::string::npos) << reselect.err;
  EXPECT_NE(reselect.err.find("field is immutable"), std::string::npos) << reselect.err;
}

}  // namespace
}  // namespace vmrelease::testing
