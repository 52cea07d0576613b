// Where the API server is and how to authenticate: from a kubeconfig file (as
// kubectl reads it) or from the pod's service account (in-cluster).
//
//   ASSIGN_OR_RETURN(ClusterConfig cfg, LoadKubeconfig({.path = flag_kubeconfig,
//                                                       .context = flag_context}));
//   ASSIGN_OR_RETURN(ClusterConfig cfg, LoadInCluster({}));
//   ASSIGN_OR_RETURN(ClusterConfig cfg, LoadDefaultConfig({}));  // flag, env, in-cluster, ~
//
// Kubeconfig support: KUBECONFIG (':'-separated files merged, first file wins
// per cluster/user/context name and for current-context) or an explicit path,
// else ~/.kube/config; current-context or an explicit context; cluster
// `server`, `certificate-authority` / `-data`, `insecure-skip-tls-verify`;
// user `client-certificate(-data)`, `client-key(-data)`, `token`, `tokenFile`;
// context `namespace`. Relative file paths resolve against the directory of the
// kubeconfig file that mentions them.
//
// Errors: kInvalidArgument / kNotFound with a message naming the file and the
// field (e.g. `kubeconfig /x/config: context "dev": user "u" not found`). Not
// supported (clear error): exec plugins, auth-provider, username/password.
#pragma once

#include <memory>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/http/types.h"
#include "controller/kube/token_source.h"

namespace vmrelease::kube {

struct ClusterConfig {
  std::string server;  // "https://host:port", no trailing slash
  http::TlsConfig tls;
  std::shared_ptr<TokenSource> token;  // null with client-certificate auth
  std::string ns = "default";          // context namespace / service-account namespace
  std::string source;                  // where this came from, for logs
};

struct KubeconfigOptions {
  std::string path;        // explicit file; empty: $KUBECONFIG, else ~/.kube/config
  std::string context;     // empty: current-context
  Clock* clock = nullptr;  // for token-file refresh (RealClock when null)
  Duration token_refresh = std::chrono::minutes(1);
};
StatusOr<ClusterConfig> LoadKubeconfig(const KubeconfigOptions& options);

struct InClusterOptions {
  // Service-account files (token, ca.crt, namespace) live here.
  std::string root = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Empty: read KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT.
  std::string host;
  std::string port;
  Clock* clock = nullptr;
  Duration token_refresh = std::chrono::minutes(1);  // client-go re-reads about every minute
};
StatusOr<ClusterConfig> LoadInCluster(const InClusterOptions& options);

// controller-runtime's order: an explicit kubeconfig path or context, else
// $KUBECONFIG, else in-cluster when KUBERNETES_SERVICE_HOST is set, else
// ~/.kube/config; otherwise an error saying what was tried.
StatusOr<ClusterConfig> LoadDefaultConfig(const KubeconfigOptions& options);

}  // namespace vmrelease::kube
