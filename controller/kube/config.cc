#include "controller/kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "controller/common/crypto.h"
#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::kube {
namespace {

namespace fs = std::filesystem;

// One named entry (cluster, user or context) and the file it came from.
struct Entry {
  YAML::Node node;
  std::string file;
};

struct Merged {
  std::vector<std::string> files;
  std::string current_context;
  std::map<std::string, Entry> clusters, users, contexts;
};

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Resolves a file path from a kubeconfig relative to that kubeconfig's directory.
std::string Resolve(const std::string& path, const std::string& kubeconfig_file) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(kubeconfig_file).parent_path() / path).lexically_normal().string();
}

StatusOr<std::string> Scalar(const YAML::Node& node, const char* key, const std::string& where) {
  const YAML::Node v = node[key];
  if (!v) return std::string();
  if (!v.IsScalar()) return InvalidArgumentError(where + ": field " + key + " must be a string");
  return v.as<std::string>();
}

StatusOr<bool> Bool(const YAML::Node& node, const char* key, const std::string& where) {
  const YAML::Node v = node[key];
  if (!v) return false;
  try {
    return v.as<bool>();
  } catch (const YAML::Exception&) {
    return InvalidArgumentError(where + ": field " + key + " must be true or false");
  }
}

Status MergeFile(const std::string& file, Merged* out) {
  auto read = ReadFileToString(file);
  if (!read.ok()) return read.status().WithContext("kubeconfig");
  const std::string& text = *read;
  // yaml-cpp 0.7 can hang on invalid UTF-8 (see api/manifest.cc); refuse it first.
  if (const size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    return InvalidArgumentError("kubeconfig " + file + ": not valid UTF-8 (byte " +
                                std::to_string(bad) + ")");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError("kubeconfig " + file + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return Status::Ok();  // an empty file contributes nothing
  if (!root.IsMap()) return InvalidArgumentError("kubeconfig " + file + ": not a YAML mapping");
  out->files.push_back(file);
  const YAML::Node cc = root["current-context"];
  if (out->current_context.empty() && cc && cc.IsScalar()) {
    out->current_context = cc.as<std::string>();
  }
  struct Section {
    const char* list;
    const char* item;
    std::map<std::string, Entry>* into;
  };
  for (const Section& s :
       {Section{"clusters", "cluster", &out->clusters}, Section{"users", "user", &out->users},
        Section{"contexts", "context", &out->contexts}}) {
    const YAML::Node list = root[s.list];
    if (!list || list.IsNull()) continue;
    if (!list.IsSequence())
      return InvalidArgumentError("kubeconfig " + file + ": " + s.list + " must be a list");
    for (const YAML::Node& item : list) {
      if (!item.IsMap() || !item["name"] || !item["name"].IsScalar())
        return InvalidArgumentError("kubeconfig " + file + ": every entry of " + s.list +
                                    " needs a name");
      const std::string name = item["name"].as<std::string>();
      YAML::Node body = item[s.item];
      if (!body || body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
      if (!body.IsMap())
        return InvalidArgumentError("kubeconfig " + file + ": " + s.list + " \"" + name +
                                    "\": " + s.item + " must be a mapping");
      s.into->emplace(name, Entry{body, file});  // first file wins
    }
  }
  return Status::Ok();
}

// Data field (base64) or file field (path): returns the PEM text or "".
StatusOr<std::string> PemFrom(const Entry& e, const char* data_key, const char* file_key,
                              const std::string& where) {
  ASSIGN_OR_RETURN(std::string data, Scalar(e.node, data_key, where));
  if (!data.empty()) {
    auto decoded = Base64Decode(data);
    if (!decoded.ok())
      return InvalidArgumentError(where + ": " + data_key + " is not valid base64");
    return *decoded;
  }
  ASSIGN_OR_RETURN(std::string path, Scalar(e.node, file_key, where));
  if (path.empty()) return std::string();
  const std::string resolved = Resolve(path, e.file);
  auto content = ReadFileToString(resolved);
  if (!content.ok())
    return InvalidArgumentError(where + ": " + file_key + " " + resolved + ": cannot be read");
  return *content;
}

StatusOr<ClusterConfig> Build(const Merged& m, const KubeconfigOptions& options) {
  const std::string files = [&] {
    std::string s;
    for (const auto& f : m.files) s += (s.empty() ? "" : ":") + f;
    return s;
  }();
  const std::string prefix = "kubeconfig " + files;
  const std::string context_name = options.context.empty() ? m.current_context : options.context;
  if (context_name.empty())
    return InvalidArgumentError(prefix + ": no current-context set; choose one with --context");
  auto ctx_it = m.contexts.find(context_name);
  if (ctx_it == m.contexts.end())
    return NotFoundError(prefix + ": context \"" + context_name + "\" not found");
  const std::string ctx_where = prefix + ": context \"" + context_name + "\"";
  const YAML::Node& ctx = ctx_it->second.node;
  ASSIGN_OR_RETURN(std::string cluster_name, Scalar(ctx, "cluster", ctx_where));
  ASSIGN_OR_RETURN(std::string user_name, Scalar(ctx, "user", ctx_where));
  ASSIGN_OR_RETURN(std::string ns, Scalar(ctx, "namespace", ctx_where));
  if (cluster_name.empty()) return InvalidArgumentError(ctx_where + ": has no cluster");

  ClusterConfig cfg;
  cfg.ns = ns.empty() ? "default" : ns;
  cfg.source = prefix + " (context " + context_name + ")";

  auto cl_it = m.clusters.find(cluster_name);
  if (cl_it == m.clusters.end())
    return NotFoundError(ctx_where + ": cluster \"" + cluster_name + "\" not found");
  const std::string cl_where =
      "kubeconfig " + cl_it->second.file + ": cluster \"" + cluster_name + "\"";
  ASSIGN_OR_RETURN(std::string server, Scalar(cl_it->second.node, "server", cl_where));
  if (server.empty()) return InvalidArgumentError(cl_where + ": server is empty");
  while (!server.empty() && server.back() == '/') server.pop_back();
  http::Url url;
  if (!http::ParseUrl(server, &url))
    return InvalidArgumentError(cl_where + ": server \"" + server + "\" is not an http(s) URL");
  cfg.server = server;
  ASSIGN_OR_RETURN(cfg.tls.insecure_skip_verify,
                   Bool(cl_it->second.node, "insecure-skip-tls-verify", cl_where));
  ASSIGN_OR_RETURN(cfg.tls.ca_pem, PemFrom(cl_it->second, "certificate-authority-data",
                                           "certificate-authority", cl_where));

  if (user_name.empty()) return cfg;  // anonymous
  auto u_it = m.users.find(user_name);
  if (u_it == m.users.end())
    return NotFoundError(ctx_where + ": user \"" + user_name + "\" not found");
  const Entry& user = u_it->second;
  const std::string u_where = "kubeconfig " + user.file + ": user \"" + user_name + "\"";
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user.node[unsupported])
      return InvalidArgumentError(u_where + ": " + unsupported +
                                  " is not supported; use a token, tokenFile or client "
                                  "certificate");
  }
  ASSIGN_OR_RETURN(cfg.tls.client_cert_pem,
                   PemFrom(user, "client-certificate-data", "client-certificate", u_where));
  ASSIGN_OR_RETURN(cfg.tls.client_key_pem, PemFrom(user, "client-key-data", "client-key", u_where));
  if (cfg.tls.client_cert_pem.empty() != cfg.tls.client_key_pem.empty())
    return InvalidArgumentError(u_where +
                                ": client-certificate and client-key must be set together");
  if (!cfg.tls.client_key_pem.empty()) log::RegisterSecret(cfg.tls.client_key_pem);

  ASSIGN_OR_RETURN(std::string token, Scalar(user.node, "token", u_where));
  ASSIGN_OR_RETURN(std::string token_file, Scalar(user.node, "tokenFile", u_where));
  if (!token_file.empty()) {
    // Like client-go, the file wins over an inline token: it is the one that rotates.
    Clock& clock = options.clock != nullptr ? *options.clock : RealClock::Get();
    auto src = TokenSource::FromFile(Resolve(token_file, user.file), clock, options.token_refresh);
    if (!src.ok()) return src.status().WithContext(u_where + ": tokenFile");
    cfg.token = *src;
  } else if (!token.empty()) {
    cfg.token = TokenSource::Static(token);
  }
  return cfg;
}

std::vector<std::string> SplitPathList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string HomeKubeconfig() {
  const std::string home = Getenv("HOME");
  return home.empty() ? "" : home + "/.kube/config";
}

}  // namespace

StatusOr<ClusterConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  std::vector<std::string> files;
  if (!options.path.empty()) {
    files.push_back(options.path);
  } else if (!Getenv("KUBECONFIG").empty()) {
    files = SplitPathList(Getenv("KUBECONFIG"));
  } else {
    files.push_back(HomeKubeconfig());
  }
  Merged merged;
  for (const std::string& f : files) {
    if (f.empty()) continue;
    // Missing files in a KUBECONFIG list are skipped like kubectl does; an
    // explicitly named file must exist.
    if (options.path.empty() && files.size() > 1 && !fs::exists(f)) continue;
    RETURN_IF_ERROR(MergeFile(f, &merged));
  }
  if (merged.files.empty()) {
    std::string tried;
    for (const auto& f : files) tried += (tried.empty() ? "" : ", ") + f;
    return NotFoundError("no usable kubeconfig (tried " + tried + ")");
  }
  return Build(merged, options);
}

StatusOr<ClusterConfig> LoadInCluster(const InClusterOptions& options) {
  const std::string host = options.host.empty() ? Getenv("KUBERNETES_SERVICE_HOST") : options.host;
  const std::string port = options.port.empty() ? Getenv("KUBERNETES_SERVICE_PORT") : options.port;
  if (host.empty() || port.empty())
    return FailedPreconditionError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  ClusterConfig cfg;
  const bool ipv6 = host.find(':') != std::string::npos;
  cfg.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  cfg.source = "in-cluster service account (" + options.root + ")";
  Clock& clock = options.clock != nullptr ? *options.clock : RealClock::Get();
  auto token = TokenSource::FromFile(options.root + "/token", clock, options.token_refresh);
  if (!token.ok()) return token.status().WithContext("in-cluster config");
  cfg.token = *token;
  auto ca = ReadFileToString(options.root + "/ca.crt");
  if (!ca.ok()) return ca.status().WithContext("in-cluster config: CA bundle");
  cfg.tls.ca_pem = *ca;
  auto ns = ReadFileToString(options.root + "/namespace");
  if (ns.ok()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ' || n.back() == '\r')) n.pop_back();
    if (!n.empty()) cfg.ns = n;
  }
  return cfg;
}

StatusOr<ClusterConfig> LoadDefaultConfig(const KubeconfigOptions& options) {
  // controller-runtime's order: flag, $KUBECONFIG, in-cluster, ~/.kube/config.
  if (!options.path.empty() || !options.context.empty() || !Getenv("KUBECONFIG").empty())
    return LoadKubeconfig(options);
  if (!Getenv("KUBERNETES_SERVICE_HOST").empty()) {
    InClusterOptions ic;
    ic.clock = options.clock;
    ic.token_refresh = options.token_refresh;
    return LoadInCluster(ic);
  }
  const std::string home = HomeKubeconfig();
  if (!home.empty() && fs::exists(home)) return LoadKubeconfig(options);
  return NotFoundError("no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, create " +
                       (home.empty() ? std::string("~/.kube/config") : home) +
                       ", or run in a cluster");
}

}  // namespace vmrelease::kube
