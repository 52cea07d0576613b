#include "tests/support/apiserver/workloads.h"

#include <algorithm>
#include <climits>
#include <map>
#include <string>

namespace vmrelease::apiserver {
namespace {

using nlohmann::json;

json& ObjectAt(json& parent, const char* key) {
  json& v = parent[key];
  if (!v.is_object()) v = json::object();
  return v;
}

const json& Get(const json& obj, const char* key) {
  static const json null;
  if (!obj.is_object()) return null;
  auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

std::string Str(const json& obj, const char* key) {
  const json& v = Get(obj, key);
  return v.is_string() ? v.get<std::string>() : "";
}

int64_t Int(const json& obj, const char* key, int64_t fallback = 0) {
  const json& v = Get(obj, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

bool Missing(const json& obj, const char* key) { return Get(obj, key).is_null(); }

// Always for ":latest" or an untagged image without digest, else IfNotPresent.
std::string DefaultPullPolicy(const std::string& image) {
  if (image.find('@') != std::string::npos) return "IfNotPresent";
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "Always";
  return image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void DefaultContainer(json& c) {
  if (!c.is_object()) return;
  if (Missing(c, "terminationMessagePath")) c["terminationMessagePath"] = "/dev/termination-log";
  if (Missing(c, "terminationMessagePolicy")) c["terminationMessagePolicy"] = "File";
  if (Missing(c, "imagePullPolicy")) c["imagePullPolicy"] = DefaultPullPolicy(Str(c, "image"));
  if (Missing(c, "resources")) c["resources"] = json::object();
  if (c.contains("ports") && c["ports"].is_array())
    for (auto& p : c["ports"])
      if (p.is_object() && Missing(p, "protocol")) p["protocol"] = "TCP";
}

std::string JoinNames(const json& containers, const char* field) {
  std::string out;
  if (!containers.is_array()) return out;
  for (const auto& c : containers) {
    if (!out.empty()) out += ",";
    out += Str(c, field);
  }
  return out;
}

// metav1.FormatLabelSelector: "k=v,k2 in (a,b)" or "<none>".
std::string FormatSelector(const json& sel) {
  std::vector<std::string> parts;
  const json& ml = Get(sel, "matchLabels");
  if (ml.is_object())
    for (auto it = ml.begin(); it != ml.end(); ++it)
      parts.push_back(it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  const json& me = Get(sel, "matchExpressions");
  if (me.is_array()) {
    for (const auto& r : me) {
      const std::string op = Str(r, "operator");
      std::string values;
      if (Get(r, "values").is_array())
        for (const auto& v : r["values"]) values += (values.empty() ? "" : ",") + v.dump();
      values.erase(std::remove(values.begin(), values.end(), '"'), values.end());
      if (op == "In")
        parts.push_back(Str(r, "key") + " in (" + values + ")");
      else if (op == "NotIn")
        parts.push_back(Str(r, "key") + " notin (" + values + ")");
      else if (op == "Exists")
        parts.push_back(Str(r, "key"));
      else if (op == "DoesNotExist")
        parts.push_back("!" + Str(r, "key"));
    }
  }
  if (parts.empty()) return "<none>";
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

// The first condition of `type` has status True (printers' hasJobCondition).
bool HasCondition(const json& obj, const char* type) {
  const json& conds = Get(Get(obj, "status"), "conditions");
  if (!conds.is_array()) return false;
  for (const auto& c : conds)
    if (Str(c, "type") == type) return Str(c, "status") == "True";
  return false;
}

std::vector<FieldError> ValidatePodSpec(const json& spec, const std::string& path) {
  std::vector<FieldError> errs;
  const json& containers = Get(spec, "containers");
  if (!containers.is_array() || containers.empty()) {
    errs.push_back(RequiredField(path + ".containers"));
  } else {
    for (size_t i = 0; i < containers.size(); ++i) {
      const std::string cp = path + ".containers[" + std::to_string(i) + "]";
      if (Str(containers[i], "name").empty()) errs.push_back(RequiredField(cp + ".name"));
      if (Str(containers[i], "image").empty()) errs.push_back(RequiredField(cp + ".image"));
    }
  }
  return errs;
}

std::string QosClass(const json& spec) {
  bool any = false, guaranteed = true;
  for (const char* list : {"initContainers", "containers"}) {
    const json& cs = Get(spec, list);
    if (!cs.is_array()) continue;
    for (const auto& c : cs) {
      const json& res = Get(c, "resources");
      const json& limits = Get(res, "limits");
      const json& requests = Get(res, "requests");
      for (const char* r : {"cpu", "memory"}) {
        const json& l = Get(limits, r);
        const json& q = Get(requests, r);
        if (!l.is_null() || !q.is_null()) any = true;
        if (l.is_null() || (!q.is_null() && q != l)) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

void JobDefaults(json& job) {
  json& spec = ObjectAt(job, "spec");
  if (Missing(spec, "completions") && Missing(spec, "parallelism")) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  if (Missing(spec, "parallelism")) spec["parallelism"] = 1;
  if (Missing(spec, "backoffLimit"))
    spec["backoffLimit"] = Missing(spec, "backoffLimitPerIndex") ? 6 : INT32_MAX;
  if (Missing(spec, "completionMode")) spec["completionMode"] = "NonIndexed";
  if (Missing(spec, "suspend")) spec["suspend"] = false;
  if (Missing(spec, "podReplacementPolicy"))
    spec["podReplacementPolicy"] =
        Missing(spec, "podFailurePolicy") ? "TerminatingOrFailed" : "Failed";
  json& tmpl = ObjectAt(spec, "template");
  const json& tlabels = Get(Get(tmpl, "metadata"), "labels");
  json& meta = ObjectAt(job, "metadata");
  const json& labels = Get(meta, "labels");
  if (tlabels.is_object() && !tlabels.empty() && (!labels.is_object() || labels.empty()))
    meta["labels"] = tlabels;
  DefaultPodSpec(ObjectAt(tmpl, "spec"));
}

// A kubectl table column computed from the object (as the server's printers do).
PrinterColumn TypedColumn(std::string name, std::string type, std::string desc, int priority,
                          std::function<json(const json&, WallTime)> f) {
  PrinterColumn c;
  c.name = std::move(name);
  c.type = std::move(type);
  c.description = std::move(desc);
  c.priority = priority;
  c.compute = std::move(f);
  return c;
}
PrinterColumn Column(std::string name, std::string desc, int priority,
                     std::function<json(const json&, WallTime)> f) {
  return TypedColumn(std::move(name), "string", std::move(desc), priority, std::move(f));
}

}  // namespace

void DefaultPodSpec(json& spec) {
  if (!spec.is_object()) return;
  if (Missing(spec, "restartPolicy")) spec["restartPolicy"] = "Always";
  if (Missing(spec, "dnsPolicy")) spec["dnsPolicy"] = "ClusterFirst";
  if (Missing(spec, "schedulerName")) spec["schedulerName"] = "default-scheduler";
  if (Missing(spec, "terminationGracePeriodSeconds")) spec["terminationGracePeriodSeconds"] = 30;
  if (Missing(spec, "securityContext")) spec["securityContext"] = json::object();
  for (const char* list : {"initContainers", "containers"})
    if (spec.contains(list) && spec[list].is_array())
      for (auto& c : spec[list]) DefaultContainer(c);
}

void PreparePodForCreate(json& pod) {
  json& spec = ObjectAt(pod, "spec");
  DefaultPodSpec(spec);
  if (Missing(spec, "enableServiceLinks")) spec["enableServiceLinks"] = true;
  pod["status"] = {{"phase", "Pending"}, {"qosClass", QosClass(spec)}};
}

std::vector<FieldError> ValidatePod(json& pod) {
  json& spec = ObjectAt(pod, "spec");
  DefaultPodSpec(spec);
  std::vector<FieldError> errs = ValidatePodSpec(spec, "spec");
  const std::string rp = Str(spec, "restartPolicy");
  if (rp != "Always" && rp != "OnFailure" && rp != "Never")
    errs.push_back(NotSupportedField("spec.restartPolicy", spec["restartPolicy"],
                                     {"Always", "OnFailure", "Never"}));
  return errs;
}

void PrepareJobForCreate(json& job) {
  JobDefaults(job);
  json& spec = job["spec"];
  if (Get(spec, "manualSelector") == json(true)) return;
  const std::string name = Str(Get(job, "metadata"), "name");
  const std::string uid = Str(Get(job, "metadata"), "uid");
  json& labels = ObjectAt(ObjectAt(ObjectAt(spec, "template"), "metadata"), "labels");
  for (const char* k : {kLegacyJobNameLabel, kJobNameLabel})
    if (Missing(labels, k)) labels[k] = name;
  for (const char* k : {kLegacyControllerUidLabel, kControllerUidLabel})
    if (Missing(labels, k)) labels[k] = uid;
  json& match = ObjectAt(ObjectAt(spec, "selector"), "matchLabels");
  if (Missing(match, kControllerUidLabel)) match[kControllerUidLabel] = uid;
}

std::vector<FieldError> DefaultAndValidateJob(json& job) {
  JobDefaults(job);
  std::vector<FieldError> errs;
  const json& spec = job["spec"];
  const json& tspec = spec["template"]["spec"];
  errs = ValidatePodSpec(tspec, "spec.template.spec");
  const std::string rp = Str(tspec, "restartPolicy");
  if (rp != "OnFailure" && rp != "Never")
    errs.push_back(NotSupportedField("spec.template.spec.restartPolicy",
                                     Get(tspec, "restartPolicy"), {"OnFailure", "Never"}));
  for (const char* f : {"parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
                        "ttlSecondsAfterFinished"}) {
    const json& v = Get(spec, f);
    if (v.is_null()) continue;
    if (!v.is_number_integer())
      errs.push_back(InvalidField(std::string("spec.") + f, v, "must be an integer"));
    else if (v.get<int64_t>() < 0)
      errs.push_back(
          InvalidField(std::string("spec.") + f, v, "must be greater than or equal to 0"));
  }
  const std::string mode = Str(spec, "completionMode");
  if (mode != "NonIndexed" && mode != "Indexed")
    errs.push_back(NotSupportedField("spec.completionMode", Get(spec, "completionMode"),
                                     {"NonIndexed", "Indexed"}));
  const json& selector = Get(spec, "selector");
  const json& tlabels = Get(Get(spec["template"], "metadata"), "labels");
  if (!selector.is_object()) {
    errs.push_back(RequiredField("spec.selector"));
    return errs;
  }
  // The selector's matchLabels must select the template (expressions are not checked).
  const json& match = Get(selector, "matchLabels");
  if (match.is_object()) {
    for (auto it = match.begin(); it != match.end(); ++it) {
      if (!tlabels.is_object() || Get(tlabels, it.key().c_str()) != *it) {
        errs.push_back(InvalidField("spec.template.metadata.labels",
                                    tlabels.is_object() ? tlabels : json::object(),
                                    "`selector` does not match template `labels`"));
        break;
      }
    }
  }
  if (Get(spec, "manualSelector") != json(true)) {
    const json& meta = Get(job, "metadata");
    const std::string uid = Str(meta, "uid");
    const std::string name = Str(meta, "name");
    for (const auto& [k, want] :
         std::map<std::string, std::string>{{kLegacyControllerUidLabel, uid},
                                            {kControllerUidLabel, uid},
                                            {kLegacyJobNameLabel, name},
                                            {kJobNameLabel, name}}) {
      const json& have = Get(tlabels, k.c_str());
      if (have != json(want))
        errs.push_back(InvalidField("spec.template.metadata.labels",
                                    have.is_null() ? json("") : have, "must be '" + want + "'"));
    }
    if (Get(match, kControllerUidLabel) != json(uid))
      errs.push_back(InvalidField("spec.selector", selector, "`selector` not auto-generated"));
  }
  return errs;
}

std::vector<FieldError> ValidateJobUpdate(const json& old_job, const json& job) {
  std::vector<FieldError> errs;
  const json& os = Get(old_job, "spec");
  const json& ns = Get(job, "spec");
  if (Get(os, "selector") != Get(ns, "selector"))
    errs.push_back(InvalidField("spec.selector", Get(ns, "selector"), "field is immutable"));
  if (Get(os, "completionMode") != Get(ns, "completionMode"))
    errs.push_back(
        InvalidField("spec.completionMode", Get(ns, "completionMode"), "field is immutable"));
  // A suspended Job's template may change (the scheduling directives of a
  // never-started Job, in the real strategy); a running Job's may not.
  if (Get(os, "template") != Get(ns, "template") && Get(os, "suspend") != json(true))
    errs.push_back(InvalidField("spec.template", Get(ns, "template"), "field is immutable"));
  return errs;
}

std::string PodStatusReason(const json& pod) {
  const json& status = Get(pod, "status");
  const std::string phase = Str(status, "phase");
  std::string reason = Str(status, "reason").empty() ? phase : Str(status, "reason");
  const json& conds = Get(status, "conditions");
  if (conds.is_array())
    for (const auto& c : conds)
      if (Str(c, "type") == "PodScheduled" && Str(c, "reason") == "SchedulingGated")
        reason = "SchedulingGated";
  bool initializing = false;
  const json& inits = Get(status, "initContainerStatuses");
  if (inits.is_array()) {
    for (size_t i = 0; i < inits.size(); ++i) {
      const json& state = Get(inits[i], "state");
      const json& term = Get(state, "terminated");
      const json& wait = Get(state, "waiting");
      if (term.is_object() && Int(term, "exitCode") == 0) continue;
      if (term.is_object()) {
        reason = Str(term, "reason").empty()
                     ? "Init:ExitCode:" + std::to_string(Int(term, "exitCode"))
                     : "Init:" + Str(term, "reason");
      } else if (wait.is_object() && !Str(wait, "reason").empty() &&
                 Str(wait, "reason") != "PodInitializing") {
        reason = "Init:" + Str(wait, "reason");
      } else {
        reason = "Init:" + std::to_string(i) + "/" +
                 std::to_string(Get(Get(pod, "spec"), "initContainers").size());
      }
      initializing = true;
      break;
    }
  }
  if (!initializing) {
    bool has_running = false;
    const json& cs = Get(status, "containerStatuses");
    if (cs.is_array()) {
      for (auto it = cs.rbegin(); it != cs.rend(); ++it) {
        const json& state = Get(*it, "state");
        const json& term = Get(state, "terminated");
        const json& wait = Get(state, "waiting");
        if (wait.is_object() && !Str(wait, "reason").empty()) {
          reason = Str(wait, "reason");
        } else if (term.is_object() && !Str(term, "reason").empty()) {
          reason = Str(term, "reason");
        } else if (term.is_object()) {
          reason = Int(term, "signal") != 0 ? "Signal:" + std::to_string(Int(term, "signal"))
                                            : "ExitCode:" + std::to_string(Int(term, "exitCode"));
        } else if (Get(*it, "ready") == json(true) && Get(state, "running").is_object()) {
          has_running = true;
        }
      }
    }
    if (reason == "Completed" && has_running) {
      bool ready = false;
      if (conds.is_array())
        for (const auto& c : conds)
          ready = ready || (Str(c, "type") == "Ready" && Str(c, "status") == "True");
      reason = ready ? "Running" : "NotReady";
    }
  }
  const bool terminal = phase == "Succeeded" || phase == "Failed";
  if (!Str(Get(pod, "metadata"), "deletionTimestamp").empty() && !terminal) reason = "Terminating";
  return reason;
}

// Age, then (wide) the containers and images of spec.template: as kubectl shows Jobs
// and Deployments.
void AddAgeAndTemplateColumns(std::vector<PrinterColumn>& cols) {
  cols.push_back(DefaultColumns()[0]);  // Age
  cols.push_back(Column(
      "Containers", "Names of each container in the template.", 1,
      [](const json& o, WallTime) -> json {
        return JoinNames(Get(Get(Get(Get(o, "spec"), "template"), "spec"), "containers"), "name");
      }));
  cols.push_back(Column(
      "Images", "Images referenced by each container in the template.", 1,
      [](const json& o, WallTime) -> json {
        return JoinNames(Get(Get(Get(Get(o, "spec"), "template"), "spec"), "containers"), "image");
      }));
}

std::vector<PrinterColumn> JobColumns() {
  std::vector<PrinterColumn> cols;
  cols.push_back(Column("Status", "Status of the job.", 0, [](const json& o, WallTime) -> json {
    if (HasCondition(o, "Complete")) return "Complete";
    if (HasCondition(o, "Failed")) return "Failed";
    if (!Str(Get(o, "metadata"), "deletionTimestamp").empty()) return "Terminating";
    if (HasCondition(o, "Suspended")) return "Suspended";
    if (HasCondition(o, "FailureTarget")) return "FailureTarget";
    return "Running";
  }));
  cols.push_back(Column("Completions", "The number of succeeded pods of the job.", 0,
                        [](const json& o, WallTime) -> json {
                          const json& spec = Get(o, "spec");
                          const std::string succeeded =
                              std::to_string(Int(Get(o, "status"), "succeeded"));
                          if (Get(spec, "completions").is_number_integer())
                            return succeeded + "/" + std::to_string(Int(spec, "completions"));
                          const int64_t parallelism = Int(spec, "parallelism");
                          if (parallelism > 1)
                            return succeeded + "/1 of " + std::to_string(parallelism);
                          return succeeded + "/1";
                        }));
  cols.push_back(Column(
      "Duration", "Time required to complete the job.", 0, [](const json& o, WallTime now) -> json {
        const json& st = Get(o, "status");
        WallTime start, end = now;
        if (!ParseRfc3339(Str(st, "startTime"), &start)) return "";
        if (!Str(st, "completionTime").empty() && !ParseRfc3339(Str(st, "completionTime"), &end))
          return "";
        return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(end - start));
      }));
  AddAgeAndTemplateColumns(cols);
  cols.push_back(Column("Selector", "A label query over pods that should match the pod count.", 1,
                        [](const json& o, WallTime) -> json {
                          return FormatSelector(Get(Get(o, "spec"), "selector"));
                        }));
  return cols;
}

std::vector<PrinterColumn> PodColumns() {
  std::vector<PrinterColumn> cols;
  cols.push_back(TypedColumn(
      "Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0,
      [](const json& o, WallTime) -> json {
        const json& cs = Get(Get(o, "status"), "containerStatuses");
        int ready = 0;
        if (cs.is_array())
          for (const auto& c : cs)
            if (Get(c, "ready") == json(true) && Get(Get(c, "state"), "running").is_object())
              ++ready;
        const json& containers = Get(Get(o, "spec"), "containers");
        return std::to_string(ready) + "/" +
               std::to_string(containers.is_array() ? containers.size() : 0);
      }));
  cols.push_back(TypedColumn("Status", "string",
                             "The aggregate status of the containers in this pod.", 0,
                             [](const json& o, WallTime) -> json { return PodStatusReason(o); }));
  cols.push_back(TypedColumn(
      "Restarts", "integer", "The number of times the containers in this pod have been restarted.",
      0, [](const json& o, WallTime now) -> json {
        int64_t restarts = 0;
        WallTime last{};
        const json& cs = Get(Get(o, "status"), "containerStatuses");
        if (cs.is_array()) {
          for (const auto& c : cs) {
            restarts += Int(c, "restartCount");
            WallTime t;
            if (ParseRfc3339(Str(Get(Get(c, "lastState"), "terminated"), "finishedAt"), &t) &&
                t > last)
              last = t;
          }
        }
        std::string s = std::to_string(restarts);
        if (restarts != 0 && last != WallTime{})
          s += " (" + AgeSince(FormatRfc3339(last), now) + " ago)";
        return s;
      }));
  cols.push_back(DefaultColumns()[0]);  // Age
  cols.push_back(TypedColumn("IP", "string", "IP address allocated to the pod.", 1,
                             [](const json& o, WallTime) -> json {
                               const json& ips = Get(Get(o, "status"), "podIPs");
                               if (ips.is_array() && !ips.empty() && !Str(ips[0], "ip").empty())
                                 return Str(ips[0], "ip");
                               return "<none>";
                             }));
  cols.push_back(TypedColumn("Node", "string", "The node the pod is bound to.", 1,
                             [](const json& o, WallTime) -> json {
                               const std::string n = Str(Get(o, "spec"), "nodeName");
                               return n.empty() ? "<none>" : n;
                             }));
  cols.push_back(TypedColumn("Nominated Node", "string", "The node the scheduler nominated.", 1,
                             [](const json& o, WallTime) -> json {
                               const std::string n = Str(Get(o, "status"), "nominatedNodeName");
                               return n.empty() ? "<none>" : n;
                             }));
  cols.push_back(TypedColumn("Readiness Gates", "string", "The readiness gates of the pod.", 1,
                             [](const json& o, WallTime) -> json {
                               const json& gates = Get(Get(o, "spec"), "readinessGates");
                               if (!gates.is_array() || gates.empty()) return "<none>";
                               const json& conds = Get(Get(o, "status"), "conditions");
                               int ok = 0;
                               for (const auto& g : gates)
                                 if (conds.is_array())
                                   for (const auto& c : conds)
                                     if (Str(c, "type") == Str(g, "conditionType")) {
                                       ok += Str(c, "status") == "True";
                                       break;
                                     }
                               return std::to_string(ok) + "/" + std::to_string(gates.size());
                             }));
  return cols;
}

namespace {

// An IntOrString of a rolling update: its value as given ("25%" or 1), and whether it
// is zero ("0%" or 0).
bool IsZeroIntOrPercent(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>() == 0;
  if (v.is_string()) return v.get<std::string>() == "0%" || v.get<std::string>() == "0";
  return false;
}

// An IntOrString must be a non-negative integer or "N%".
void CheckIntOrPercent(const json& v, const std::string& path, std::vector<FieldError>& errs) {
  if (v.is_null()) return;
  if (v.is_number_integer()) {
    if (v.get<int64_t>() < 0)
      errs.push_back(InvalidField(path, v, "must be greater than or equal to 0"));
    return;
  }
  const std::string str = v.is_string() ? v.get<std::string>() : "";
  const bool percent =
      str.size() >= 2 && str.back() == '%' &&
      std::all_of(str.begin(), str.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
  if (!percent)
    errs.push_back(
        InvalidField(path, v,
                     "a valid percent string must be a numeric string followed by an ending '%' "
                     "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
}

// The selector's matchLabels select the template's labels (expressions are not checked).
void CheckSelectorMatchesTemplate(const json& spec, std::vector<FieldError>& errs) {
  const json& selector = Get(spec, "selector");
  const json& tlabels = Get(Get(Get(spec, "template"), "metadata"), "labels");
  if (!selector.is_object()) {
    errs.push_back(RequiredField("spec.selector"));
    return;
  }
  const json& match = Get(selector, "matchLabels");
  if ((!match.is_object() || match.empty()) && Get(selector, "matchExpressions").is_null()) {
    errs.push_back(
        InvalidField("spec.selector", selector, "empty selector is invalid for deployment"));
    return;
  }
  if (!match.is_object()) return;
  for (auto it = match.begin(); it != match.end(); ++it) {
    if (!tlabels.is_object() || Get(tlabels, it.key().c_str()) != *it) {
      errs.push_back(InvalidField("spec.template.metadata.labels",
                                  tlabels.is_object() ? tlabels : json::object(),
                                  "`selector` does not match template `labels`"));
      return;
    }
  }
}

}  // namespace

std::vector<FieldError> DefaultAndValidateDeployment(json& d) {
  json& spec = ObjectAt(d, "spec");
  if (Missing(spec, "replicas")) spec["replicas"] = 1;
  if (Missing(spec, "revisionHistoryLimit")) spec["revisionHistoryLimit"] = 10;
  if (Missing(spec, "progressDeadlineSeconds")) spec["progressDeadlineSeconds"] = 600;
  json& strategy = ObjectAt(spec, "strategy");
  if (Missing(strategy, "type")) strategy["type"] = "RollingUpdate";
  if (Str(strategy, "type") == "RollingUpdate") {
    json& ru = ObjectAt(strategy, "rollingUpdate");
    if (Missing(ru, "maxSurge")) ru["maxSurge"] = "25%";
    if (Missing(ru, "maxUnavailable")) ru["maxUnavailable"] = "25%";
  }
  json& tmpl = ObjectAt(spec, "template");
  DefaultPodSpec(ObjectAt(tmpl, "spec"));

  std::vector<FieldError> errs = ValidatePodSpec(tmpl["spec"], "spec.template.spec");
  const std::string rp = Str(tmpl["spec"], "restartPolicy");
  if (rp != "Always")
    errs.push_back(NotSupportedField("spec.template.spec.restartPolicy",
                                     Get(tmpl["spec"], "restartPolicy"), {"Always"}));
  for (const char* f :
       {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds", "minReadySeconds"}) {
    const json& v = Get(spec, f);
    if (v.is_null()) continue;
    if (!v.is_number_integer())
      errs.push_back(InvalidField(std::string("spec.") + f, v, "must be an integer"));
    else if (v.get<int64_t>() < 0)
      errs.push_back(
          InvalidField(std::string("spec.") + f, v, "must be greater than or equal to 0"));
  }
  const std::string type = Str(strategy, "type");
  if (type != "RollingUpdate" && type != "Recreate") {
    errs.push_back(NotSupportedField("spec.strategy.type", Get(strategy, "type"),
                                     {"Recreate", "RollingUpdate"}));
  } else if (type == "Recreate" && !Missing(strategy, "rollingUpdate")) {
    errs.push_back(ForbiddenField("spec.strategy.rollingUpdate",
                                  "may not be specified when strategy `type` is 'Recreate'"));
  } else if (type == "RollingUpdate") {
    const json& ru = Get(strategy, "rollingUpdate");
    CheckIntOrPercent(Get(ru, "maxSurge"), "spec.strategy.rollingUpdate.maxSurge", errs);
    CheckIntOrPercent(Get(ru, "maxUnavailable"), "spec.strategy.rollingUpdate.maxUnavailable",
                      errs);
    if (IsZeroIntOrPercent(Get(ru, "maxSurge")) && IsZeroIntOrPercent(Get(ru, "maxUnavailable")))
      errs.push_back(InvalidField("spec.strategy.rollingUpdate.maxUnavailable",
                                  Get(ru, "maxUnavailable"), "may not be 0 when `maxSurge` is 0"));
  }
  CheckSelectorMatchesTemplate(spec, errs);
  return errs;
}

std::vector<FieldError> ValidateDeploymentUpdate(const json& old_deployment,
                                                 const json& deployment) {
  std::vector<FieldError> errs;
  const json& os = Get(Get(old_deployment, "spec"), "selector");
  const json& ns = Get(Get(deployment, "spec"), "selector");
  if (os != ns) errs.push_back(InvalidField("spec.selector", ns, "field is immutable"));
  return errs;
}

std::vector<FieldError> ValidateRbac(const std::string& kind, const json& obj) {
  std::vector<FieldError> errs;
  if (kind == "Role" || kind == "ClusterRole") {
    const json& rules = Get(obj, "rules");
    if (!rules.is_null() && !rules.is_array()) {
      errs.push_back(InvalidField("rules", rules, "must be a list"));
      return errs;
    }
    for (size_t i = 0; rules.is_array() && i < rules.size(); ++i) {
      const json& r = rules[i];
      const std::string rp = "rules[" + std::to_string(i) + "]";
      const json& verbs = Get(r, "verbs");
      if (!verbs.is_array() || verbs.empty())
        errs.push_back(RequiredField(rp + ".verbs", "verbs must contain at least one value"));
      const json& urls = Get(r, "nonResourceURLs");
      const bool non_resource = urls.is_array() && !urls.empty();
      if (non_resource) {
        if (kind == "Role")
          errs.push_back(InvalidField(rp + ".nonResourceURLs", urls,
                                      "namespaced rules cannot apply to non-resource URLs"));
        if (!Get(r, "apiGroups").is_null() || !Get(r, "resources").is_null())
          errs.push_back(
              InvalidField(rp + ".nonResourceURLs", urls,
                           "rules cannot apply to both regular resources and non-resource URLs"));
        continue;
      }
      const json& groups = Get(r, "apiGroups");
      if (!groups.is_array() || groups.empty())
        errs.push_back(
            RequiredField(rp + ".apiGroups", "resource rules must supply at least one api group"));
      const json& resources = Get(r, "resources");
      if (!resources.is_array() || resources.empty())
        errs.push_back(
            RequiredField(rp + ".resources", "resource rules must supply at least one resource"));
    }
    return errs;
  }
  // RoleBinding / ClusterRoleBinding.
  const json& ref = Get(obj, "roleRef");
  if (!ref.is_object()) {
    errs.push_back(RequiredField("roleRef"));
  } else {
    if (Str(ref, "apiGroup") != "rbac.authorization.k8s.io")
      errs.push_back(NotSupportedField("roleRef.apiGroup", Get(ref, "apiGroup"),
                                       {"rbac.authorization.k8s.io"}));
    const std::string ref_kind = Str(ref, "kind");
    if (kind == "RoleBinding" && ref_kind != "Role" && ref_kind != "ClusterRole")
      errs.push_back(NotSupportedField("roleRef.kind", Get(ref, "kind"), {"ClusterRole", "Role"}));
    if (kind == "ClusterRoleBinding" && ref_kind != "ClusterRole")
      errs.push_back(NotSupportedField("roleRef.kind", Get(ref, "kind"), {"ClusterRole"}));
    if (Str(ref, "name").empty()) errs.push_back(RequiredField("roleRef.name"));
  }
  const json& subjects = Get(obj, "subjects");
  for (size_t i = 0; subjects.is_array() && i < subjects.size(); ++i) {
    const json& sub = subjects[i];
    const std::string sp = "subjects[" + std::to_string(i) + "]";
    if (Str(sub, "name").empty()) errs.push_back(RequiredField(sp + ".name"));
    const std::string sk = Str(sub, "kind");
    if (sk == "ServiceAccount") {
      if (kind == "ClusterRoleBinding" && Str(sub, "namespace").empty())
        errs.push_back(RequiredField(sp + ".namespace"));
    } else if (sk != "User" && sk != "Group") {
      errs.push_back(
          NotSupportedField(sp + ".kind", Get(sub, "kind"), {"Group", "ServiceAccount", "User"}));
    }
  }
  return errs;
}

std::vector<FieldError> ValidateRoleBindingUpdate(const json& old_binding, const json& binding) {
  std::vector<FieldError> errs;
  if (Get(old_binding, "roleRef") != Get(binding, "roleRef"))
    errs.push_back(InvalidField("roleRef", Get(binding, "roleRef"), "cannot change roleRef"));
  return errs;
}

std::vector<PrinterColumn> DeploymentColumns() {
  std::vector<PrinterColumn> cols;
  cols.push_back(
      Column("Ready", "Number of the pod with ready state", 0, [](const json& o, WallTime) -> json {
        return std::to_string(Int(Get(o, "status"), "readyReplicas")) + "/" +
               std::to_string(Int(Get(o, "spec"), "replicas", 1));
      }));
  cols.push_back(Column(
      "Up-to-date",
      "Total number of non-terminated pods targeted by this "
      "deployment that have the desired template spec.",
      0, [](const json& o, WallTime) -> json { return Int(Get(o, "status"), "updatedReplicas"); }));
  cols.back().type = "integer";
  cols.push_back(Column("Available",
                        "Total number of available pods (ready for at least "
                        "minReadySeconds) targeted by this deployment.",
                        0, [](const json& o, WallTime) -> json {
                          return Int(Get(o, "status"), "availableReplicas");
                        }));
  cols.back().type = "integer";
  AddAgeAndTemplateColumns(cols);
  cols.push_back(
      Column("Selector", "Label selector for pods.", 1, [](const json& o, WallTime) -> json {
        return FormatSelector(Get(Get(o, "spec"), "selector"));
      }));
  return cols;
}

}  // namespace vmrelease::apiserver
