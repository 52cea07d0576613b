#include "tests/support/jobrunner/container.h"

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>

#include "controller/common/crypto.h"
#include "controller/kube/errors.h"

namespace vmrelease::jobrunner {
namespace {

using kube::Json;

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Optional(const Json& ref) {
  return ref.is_object() && ref.contains("optional") && ref["optional"] == true;
}

// Reads a Secret or ConfigMap; nullopt (with `missing` set) when it does not
// exist, an error for anything else.
struct Source {
  std::optional<Json> obj;
  std::string error;  // transport/permission problems: retried like a missing one
};

Source Fetch(kube::KubeClient& client, const kube::ResourceType& type, const std::string& ns,
             const std::string& name) {
  auto r = client.Get(type, {ns, name});
  if (r.ok()) return {*r, ""};
  if (kube::IsNotFound(r.status())) return {std::nullopt, ""};
  return {std::nullopt, r.status().message()};
}

// The value of `key` in a ConfigMap (data) or Secret (data, base64).
std::optional<std::string> ValueOf(const Json& obj, const std::string& key, bool secret) {
  const Json data = obj.value("data", Json::object());
  if (!data.is_object() || !data.contains(key) || !data[key].is_string()) return std::nullopt;
  if (!secret) return data[key].get<std::string>();
  auto raw = Base64Decode(data[key].get<std::string>());
  if (!raw.ok()) return std::nullopt;
  return *raw;
}

bool IsEnvVarName(const std::string& s) {
  static const std::regex re(R"(^[-._a-zA-Z][-._a-zA-Z0-9]*$)");
  return std::regex_match(s, re);
}

// fieldRef paths the kubelet resolves.
std::optional<std::string> FieldRef(const Json& pod, const std::string& path) {
  const Json meta = pod.value("metadata", Json::object());
  const Json spec = pod.value("spec", Json::object());
  if (path == "metadata.name") return Str(meta, "name");
  if (path == "metadata.namespace") return Str(meta, "namespace");
  if (path == "metadata.uid") return Str(meta, "uid");
  if (path == "spec.nodeName") return Str(spec, "nodeName");
  if (path == "spec.serviceAccountName") return Str(spec, "serviceAccountName");
  if (path == "status.hostIP" || path == "status.podIP" || path == "status.hostIPs" ||
      path == "status.podIPs")
    return std::string("127.0.0.1");
  static const std::regex sub(R"(^metadata\.(labels|annotations)\['([^']*)'\]$)");
  std::smatch m;
  if (std::regex_match(path, m, sub)) {
    const Json map = meta.value(m[1].str(), Json::object());
    return map.is_object() ? map.value(m[2].str(), "") : "";
  }
  return std::nullopt;
}

bool Executable(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

}  // namespace

std::string ExpandVars(const std::string& in, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i];
      continue;
    }
    const char next = in[i + 1];
    if (next == '$') {  // escaped
      out += '$';
      ++i;
    } else if (next == '(') {
      const size_t close = in.find(')', i + 2);
      if (close == std::string::npos) {  // unterminated: literal
        out += in.substr(i);
        break;
      }
      const std::string name = in.substr(i + 2, close - i - 2);
      auto it = vars.find(name);
      out += it != vars.end() ? it->second : "$(" + name + ")";
      i = close;
    } else {
      out += '$';
    }
  }
  return out;
}

ContainerPlan PlanContainer(kube::KubeClient& client, const Json& pod, const Json& container,
                            const PlanOptions& options) {
  ContainerPlan plan;
  const std::string ns = Str(pod.value("metadata", Json::object()), "namespace");
  auto config_error = [&](std::string msg) {
    plan.error = ContainerPlan::Error{"CreateContainerConfigError", std::move(msg)};
    return plan;
  };
  auto start_error = [&](std::string msg) {
    plan.error = ContainerPlan::Error{"StartError", std::move(msg)};
    return plan;
  };
  std::map<std::string, std::string>& env = plan.env;
  env["PATH"] = options.path;
  env["HOME"] = options.attempt_dir;
  env["HOSTNAME"] = Str(pod.value("metadata", Json::object()), "name");

  const kube::ResourceType cm_type = kube::ConfigMapResource();
  const kube::ResourceType secret_type = kube::SecretResource();
  for (const auto& from : container.value("envFrom", Json::array())) {
    if (!from.is_object()) continue;
    const std::string prefix = Str(from, "prefix");
    for (const bool secret : {false, true}) {
      const Json ref = from.value(secret ? "secretRef" : "configMapRef", Json());
      if (!ref.is_object()) continue;
      const std::string name = Str(ref, "name");
      Source src = Fetch(client, secret ? secret_type : cm_type, ns, name);
      if (!src.error.empty()) return config_error(src.error);
      if (!src.obj) {
        if (Optional(ref)) continue;
        return config_error(std::string(secret ? "secret" : "configmap") + " \"" + name +
                            "\" not found");
      }
      const Json data = src.obj->value("data", Json::object());
      if (!data.is_object()) continue;
      for (auto it = data.begin(); it != data.end(); ++it) {
        const std::string key = prefix + it.key();
        if (!IsEnvVarName(key)) continue;  // the kubelet skips these (with an Event)
        auto v = ValueOf(*src.obj, it.key(), secret);
        if (!v) continue;
        env[key] = *v;
        if (secret) plan.secret_values.push_back(*v);
      }
    }
  }
  for (const auto& e : container.value("env", Json::array())) {
    if (!e.is_object()) continue;
    const std::string name = Str(e, "name");
    if (name.empty()) continue;
    const Json from = e.value("valueFrom", Json());
    if (!from.is_object()) {
      env[name] = ExpandVars(Str(e, "value"), env);
      continue;
    }
    if (from.contains("fieldRef")) {
      auto v = FieldRef(pod, Str(from["fieldRef"], "fieldPath"));
      if (!v)
        return config_error("unsupported fieldRef " + Str(from["fieldRef"], "fieldPath") +
                            " for env " + name);
      env[name] = *v;
      continue;
    }
    if (from.contains("resourceFieldRef"))
      return config_error("env " + name + ": resourceFieldRef is not supported by the job runner");
    for (const bool secret : {false, true}) {
      const Json ref = from.value(secret ? "secretKeyRef" : "configMapKeyRef", Json());
      if (!ref.is_object()) continue;
      const std::string obj_name = Str(ref, "name");
      const std::string key = Str(ref, "key");
      Source src = Fetch(client, secret ? secret_type : cm_type, ns, obj_name);
      if (!src.error.empty()) return config_error(src.error);
      if (!src.obj) {
        if (Optional(ref)) break;
        return config_error(std::string(secret ? "secret" : "configmap") + " \"" + obj_name +
                            "\" not found");
      }
      auto v = ValueOf(*src.obj, key, secret);
      if (!v) {
        if (Optional(ref)) break;
        return config_error("couldn't find key " + key + " in " +
                            (secret ? "Secret " : "ConfigMap ") + ns + "/" + obj_name);
      }
      env[name] = *v;
      if (secret) plan.secret_values.push_back(*v);
    }
  }
  env[kTerminationPathEnv] = options.termination_path;

  // Command and args, expanded against the final environment.
  std::vector<std::string> argv;
  for (const char* list : {"command", "args"})
    for (const auto& a : container.value(list, Json::array()))
      if (a.is_string()) argv.push_back(ExpandVars(a.get<std::string>(), env));
  if (argv.empty())
    return start_error(
        "the job runner pulls no image, so a container without command or args has nothing to "
        "run (the image's entrypoint is unknown)");
  std::string term_path = Str(container, "terminationMessagePath");
  if (term_path.empty()) term_path = "/dev/termination-log";
  for (auto& a : argv) ReplaceAll(a, term_path, options.termination_path);

  plan.working_dir = options.attempt_dir;
  const std::string wd = Str(container, "workingDir");
  std::error_code ec;
  if (!wd.empty() && std::filesystem::is_directory(wd, ec)) plan.working_dir = wd;

  const std::string exe = argv[0];
  if (exe.find('/') != std::string::npos) {
    std::string full = exe[0] == '/' ? exe : plan.working_dir + "/" + exe;
    if (!Executable(full))
      return start_error(
          "exec: \"" + exe + "\": " +
          (std::filesystem::exists(full, ec) ? "permission denied" : "no such file or directory"));
    argv[0] = full;
  } else {
    std::string found;
    std::stringstream dirs(env["PATH"]);
    for (std::string d; std::getline(dirs, d, ':');) {
      if (d.empty()) continue;
      if (Executable(d + "/" + exe)) {
        found = d + "/" + exe;
        break;
      }
    }
    if (found.empty())
      return start_error("exec: \"" + exe + "\": executable file not found in $PATH");
    argv[0] = found;
  }
  plan.argv = std::move(argv);
  return plan;
}

}  // namespace vmrelease::jobrunner
