// verify DIR: see verify.h for what is checked and in which order.
#include "controller/cli/verify.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "controller/api/manifest.h"
#include "controller/api/openapi_schema.h"
#include "controller/api/semver.h"
#include "controller/api/validation.h"
#include "controller/cli/embedded_crds.h"
#include "controller/cli/internal.h"

namespace vmrelease::cli {
namespace {

namespace fs = std::filesystem;
using api::Json;

constexpr char kApiVersion[] = "vmrelease.io/v1alpha1";

// --- unknown fields, from the API types' own field lists --------------------------------

// Collects the members each API struct kept in `extra` because it does not declare
// them: what the API server's schema pruning would drop without a word.
class UnknownFields {
 public:
  UnknownFields(std::string path, std::vector<std::string>& out)
      : path_(std::move(path)), out_(out) {}

  template <typename T>
  void Field(const char* key, const T& value) {
    known_.insert(key);
    Visit(api::JoinPath(path_, key), value, out_);
  }
  template <typename T>
  void Always(const char* key, const T& value) {
    Field(key, value);
  }
  bool Known(const std::string& key) const { return known_.contains(key); }

  template <typename T>
  static void Visit(const std::string& path, const T& value, std::vector<std::string>& out) {
    if constexpr (requires { value.extra; }) {
      UnknownFields io(path, out);
      T::Fields(io, value);
      if (value.extra.is_object())
        for (const auto& [key, v] : value.extra.items())
          if (!io.Known(key)) out.push_back(api::JoinPath(path, key));
    }
  }
  template <typename T>
  static void Visit(const std::string& path, const std::optional<T>& value,
                    std::vector<std::string>& out) {
    if (value) Visit(path, *value, out);
  }
  template <typename T>
  static void Visit(const std::string& path, const std::vector<T>& value,
                    std::vector<std::string>& out) {
    for (size_t i = 0; i < value.size(); ++i) Visit(api::IndexPath(path, i), value[i], out);
  }
  template <typename T>
  static void Visit(const std::string& path, const std::map<std::string, T>& value,
                    std::vector<std::string>& out) {
    for (const auto& [k, v] : value) Visit(api::KeyPath(path, k), v, out);
  }

 private:
  std::string path_;
  std::vector<std::string>& out_;
  std::set<std::string> known_;
};

// --- the CRD schemas ---------------------------------------------------------------------

// openAPIV3Schema of each served version of the embedded CRDs, by "apiVersion kind".
const std::map<std::string, Json>& CrdSchemas() {
  static const std::map<std::string, Json> schemas = [] {
    std::map<std::string, Json> out;
    for (const EmbeddedCrd& crd : EmbeddedCrds()) {
      auto docs = api::ParseYamlDocuments(crd.yaml);
      if (!docs.ok()) continue;  // api_schema_test keeps the CRDs parseable and structural
      for (const Json& doc : *docs) {
        const Json* group = kube::Find(doc, {"spec", "group"});
        const Json* kind = kube::Find(doc, {"spec", "names", "kind"});
        const Json* versions = kube::Find(doc, {"spec", "versions"});
        if (!group || !group->is_string() || !kind || !kind->is_string() || !versions ||
            !versions->is_array())
          continue;
        for (const Json& v : *versions) {
          const Json* schema = kube::Find(v, {"schema", "openAPIV3Schema"});
          if (!v.value("served", false) || !v.contains("name") || !schema) continue;
          out[group->get<std::string>() + "/" + v["name"].get<std::string>() + " " +
              kind->get<std::string>()] = *schema;
        }
      }
    }
    return out;
  }();
  return schemas;
}

// --- the tree ---------------------------------------------------------------------------

struct Object {
  std::string file;
  std::string id;  // "EnvironmentPin/app-production"
  std::string ns, name;
};

// An object that does not parse still takes part in the checks across the tree with what
// could be read (image, version, environment), so one mistake is reported once.
struct ReleaseDoc : Object {
  api::ImageRelease r;
  std::optional<api::Version> version;  // nullopt: not a release version (reported already)
};

struct PinDoc : Object {
  api::EnvironmentPin p;
  bool valid = true;  // parsed and validated: its own cross checks run
};

// spec.<key> when it is a string, else "".
std::string SpecString(const Json& doc, const char* key) {
  const Json* v = kube::Find(doc, {"spec", key});
  return v && v->is_string() ? v->get<std::string>() : "";
}

class Verifier {
 public:
  Verifier(const VerifyOptions& options, VerifyReport& report)
      : options_(options), report_(report) {}

  void ReadFile(const std::string& path) {
    ++report_.files;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) return Add({path, "", "", "cannot read the file"});
    auto docs = api::ParseYamlDocuments(text.str());
    if (!docs.ok()) return Add({path, "", "", "not valid YAML: " + docs.status().message()});
    for (const Json& doc : *docs) ReadDocument(path, doc);
  }

  void CrossCheck() {
    CheckDuplicates();
    for (const PinDoc& p : pins_) {
      if (!p.valid) continue;
      if (p.p.spec.version) CheckExactVersion(p);
      if (p.p.spec.track) CheckRange(p);
      if (p.p.spec.promotion) CheckGates(p);
    }
    CheckGateCycles();
  }

 private:
  void Add(VerifyProblem p) { report_.problems.push_back(std::move(p)); }
  void Add(const Object& o, const std::string& field, const std::string& message) {
    Add({o.file, o.id, field, message});
  }

  // "spec.x: message" from the API parsers -> field and message.
  void AddParseError(const Object& o, const std::string& error) {
    const size_t colon = error.find(": ");
    if (colon != std::string::npos && error.find(' ') > colon)
      Add(o, error.substr(0, colon), error.substr(colon + 2));
    else
      Add(o, "", error);
  }

  void ReadDocument(const std::string& file, const Json& doc) {
    if (!doc.is_object()) return;
    const std::string api_version = doc.value("apiVersion", Json()).is_string()
                                        ? doc["apiVersion"].get<std::string>()
                                        : std::string();
    const std::string kind =
        doc.value("kind", Json()).is_string() ? doc["kind"].get<std::string>() : std::string();
    if (api_version.rfind("vmrelease.io/", 0) != 0) return;  // not ours
    Object o{.file = file, .id = kind.empty() ? "(no kind)" : kind};
    const Json* meta = kube::Find(doc, {"metadata"});
    if (meta && meta->is_object()) {
      if (auto n = meta->find("name"); n != meta->end() && n->is_string()) o.name = *n;
      if (auto n = meta->find("namespace"); n != meta->end() && n->is_string()) o.ns = *n;
    }
    if (!o.name.empty()) o.id += "/" + o.name;
    if (o.ns.empty()) o.ns = options_.default_namespace;
    if (kind != api::kImageReleaseKind && kind != api::kEnvironmentPinKind)
      return Add(o, "kind",
                 "\"" + kind + "\" is not a kind of vmrelease.io (ImageRelease, EnvironmentPin)");
    if (api_version != kApiVersion)
      return Add(o, "apiVersion",
                 "\"" + api_version + "\" is not served; use " + std::string(kApiVersion));
    // The C++ parse and checks first (their messages explain more), then what the
    // API server's schema pipeline finds on fields they did not already report.
    const size_t first = report_.problems.size();
    ReadTyped(o, kind, doc);
    std::set<std::string> reported;
    for (size_t i = first; i < report_.problems.size(); ++i)
      reported.insert(report_.problems[i].field);
    auto it = CrdSchemas().find(api_version + " " + kind);
    if (it == CrdSchemas().end()) return;
    // Both CRDs have the status subresource: the API server ignores status on create and
    // update of the object, so a manifest's status is neither pruned nor validated.
    Json copy = doc;
    copy.erase("status");
    api::schema::ObjectResult result = api::schema::ProcessObject(it->second, copy);
    for (const std::string& f : result.unknown_fields)
      if (reported.insert(f).second) ReportUnknown(o, {f});
    for (const api::schema::FieldError& e : result.errors)
      if (reported.insert(e.field).second) Add(o, e.field, e.body);
  }

  void ReadTyped(const Object& o, const std::string& kind, const Json& doc) {
    if (o.name.empty()) Add(o, "metadata.name", "Required value: every object needs a name");
    // Members the API does not declare (typos such as `verison:`), under spec and at the top.
    std::vector<std::string> unknown;
    for (const auto& [key, v] : doc.items())
      if (key != "apiVersion" && key != "kind" && key != "metadata" && key != "spec" &&
          key != "status")
        unknown.push_back(key);
    if (kind == api::kImageReleaseKind) {
      auto r = api::ParseImageRelease(doc);
      if (!r.ok()) {
        AddParseError(o, r.status().message());
        ReleaseDoc d{o, {}};
        d.r.spec.image = SpecString(doc, "image");
        d.r.spec.version = SpecString(doc, "version");
        if (auto v = api::ParseReleaseVersion(d.r.spec.version); v.ok()) d.version = *v;
        releases_.push_back(std::move(d));
        return;
      }
      UnknownFields::Visit("spec", r->spec, unknown);
      ReportUnknown(o, unknown);
      api::SetDefaults(*r);  // as the API server does before validating
      for (const api::FieldError& e : api::Validate(*r)) Add(o, e.field, e.message);
      ++report_.releases;
      ReleaseDoc d{o, std::move(*r)};
      if (auto v = api::ParseReleaseVersion(d.r.spec.version); v.ok()) d.version = *v;
      releases_.push_back(std::move(d));
    } else {
      auto p = api::ParseEnvironmentPin(doc);
      if (!p.ok()) {
        AddParseError(o, p.status().message());
        PinDoc d{o, {}, false};
        d.p.spec.environment = SpecString(doc, "environment");
        d.p.spec.image = SpecString(doc, "image");
        pins_.push_back(std::move(d));
        return;
      }
      UnknownFields::Visit("spec", p->spec, unknown);
      ReportUnknown(o, unknown);
      const api::FieldErrors errors = api::Validate(*p);
      for (const api::FieldError& e : errors) Add(o, e.field, e.message);
      ++report_.pins;
      // An invalid pin is only looked up by others: its errors say enough about it.
      pins_.push_back({o, std::move(*p), errors.empty()});
    }
  }

  void ReportUnknown(const Object& o, const std::vector<std::string>& fields) {
    for (const std::string& f : fields)
      Add(o, f,
          "unknown field: the CRD does not declare it, so the API server would drop it without a "
          "word (a typo?)");
  }

  // (4) one object per name, one release per image and version, one pin per environment
  // and image; the later one is reported, naming the first.
  void CheckDuplicates() {
    std::map<std::string, const Object*> names;
    std::map<std::tuple<std::string, std::string, std::string>, const ReleaseDoc*> versions;
    for (const ReleaseDoc& r : releases_) {
      if (!r.name.empty() && !names.emplace(r.ns + "/" + r.id, &r).second)
        Add(r, "metadata.name",
            "ImageRelease " + r.ns + "/" + r.name + " is also defined in " +
                names[r.ns + "/" + r.id]->file);
      if (r.r.spec.version.empty() || r.r.spec.image.empty()) continue;
      auto [it, fresh] = versions.emplace(std::tuple(r.ns, r.r.spec.image, r.r.spec.version), &r);
      if (!fresh)
        Add(r, "spec.version",
            "image " + r.r.spec.image + " already has version " + r.r.spec.version + " in " +
                "namespace " + r.ns + ": " + it->second->id + " in " + it->second->file +
                " (the younger one would stall with DuplicateVersion)");
    }
    std::map<std::tuple<std::string, std::string, std::string>, const PinDoc*> envs;
    for (const PinDoc& p : pins_) {
      if (!p.name.empty() && !names.emplace(p.ns + "/" + p.id, &p).second)
        Add(p, "metadata.name",
            "EnvironmentPin " + p.ns + "/" + p.name + " is also defined in " +
                names[p.ns + "/" + p.id]->file);
      auto [it, fresh] = envs.emplace(std::tuple(p.ns, p.p.spec.environment, p.p.spec.image), &p);
      if (!fresh)
        Add(p, "spec.environment",
            "environment " + p.p.spec.environment + " already has an EnvironmentPin of image " +
                p.p.spec.image + " in namespace " + p.ns + ": " + it->second->id + " in " +
                it->second->file + " (both would stall with DuplicatePin)");
    }
  }

  std::vector<const ReleaseDoc*> TreeReleases(const std::string& ns, const std::string& image) {
    std::vector<const ReleaseDoc*> out;
    for (const ReleaseDoc& r : releases_)
      if (r.ns == ns && r.r.spec.image == image) out.push_back(&r);
    return out;
  }

  static std::string RevokedMessage(const ReleaseDoc& r) {
    return r.r.spec.version + " (" + r.id + " in " + r.file + ") is revoked" +
           (r.r.spec.revocation ? ": " + r.r.spec.revocation->reason : std::string());
  }

  // (5) the release an exact pin names exists (in the tree, or Released in the cluster)
  // and is not revoked.
  void CheckExactVersion(const PinDoc& p) {
    const std::string& image = p.p.spec.image;
    const std::string& version = *p.p.spec.version;
    const ReleaseDoc* in_tree = nullptr;
    for (const ReleaseDoc* r : TreeReleases(p.ns, image))
      if (r->r.spec.version == version && !in_tree) in_tree = r;
    if (in_tree && in_tree->r.spec.revocation)
      return Add(p, "spec.version", RevokedMessage(*in_tree));
    if (options_.cluster) {
      const auto views = options_.cluster->Views(p.ns, image);
      if (auto why =
              internal::WhyNotDeployable(*options_.cluster, p.ns, version, views, options_.now))
        Add(p, "spec.version",
            "in the cluster (namespace " + p.ns + "): " + *why +
                (in_tree ? "; the tree defines it in " + in_tree->file : std::string()));
      return;
    }
    if (in_tree) return;
    std::string elsewhere;
    for (const ReleaseDoc& r : releases_)
      if (r.ns != p.ns && r.r.spec.image == image && r.r.spec.version == version) {
        elsewhere = "; there is one in namespace " + r.ns + " (" + r.id + " in " + r.file +
                    "): pins resolve only to releases of their own namespace";
        break;
      }
    Add(p, "spec.version",
        "no ImageRelease of image " + image + " has version " + version + " in namespace " + p.ns +
            " in this tree" + elsewhere);
  }

  // (6) a range matches at least one usable release.
  void CheckRange(const PinDoc& p) {
    auto range = api::ParseRange(p.p.spec.track->semver);
    if (!range.ok()) return;  // Validate reported it
    std::vector<std::string> seen;
    bool match = false;
    for (const ReleaseDoc* r : TreeReleases(p.ns, p.p.spec.image)) {
      if (!r->version) continue;
      seen.push_back(r->r.spec.version + (r->r.spec.revocation ? " (revoked)" : ""));
      if (!options_.cluster && !r->r.spec.revocation && range->Satisfies(*r->version)) match = true;
    }
    if (options_.cluster) {
      seen.clear();
      for (const pin::ReleaseView& v : options_.cluster->Views(p.ns, p.p.spec.image)) {
        bool revoked_in_tree = false;
        for (const ReleaseDoc* r : TreeReleases(p.ns, p.p.spec.image))
          revoked_in_tree |= r->r.spec.version == v.version && r->r.spec.revocation.has_value();
        const bool usable = v.Usable() && !revoked_in_tree;
        seen.push_back(v.version + (usable ? "" : " (not usable)"));
        if (usable && range->Satisfies(v.parsed)) match = true;
      }
    }
    if (match) return;
    std::sort(seen.begin(), seen.end());
    Add(p, "spec.track.semver",
        "\"" + p.p.spec.track->semver + "\" matches no " +
            (options_.cluster ? "Released, unrevoked release in the cluster"
                              : "unrevoked release in this tree") +
            " of image " + p.p.spec.image + " in namespace " + p.ns +
            " (there: " + (seen.empty() ? std::string("none") : Join(seen)) + ")");
  }

  static std::string Join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }

  std::vector<const PinDoc*> PinsOf(const std::string& ns, const std::string& image,
                                    const std::string& env) const {
    std::vector<const PinDoc*> out;
    for (const PinDoc& p : pins_)
      if (p.ns == ns && p.p.spec.image == image && p.p.spec.environment == env) out.push_back(&p);
    return out;
  }

  // Whether the cluster says the gates do not apply or are met already for `version`:
  // the pin's own history has it (a rollback skips gates), or `env` ran it before.
  bool ClusterHistoryHas(const std::string& ns, const std::string& env, const std::string& image,
                         const std::string& version) const {
    if (!options_.cluster) return false;
    for (const api::EnvironmentPin* c : options_.cluster->PinsOf(ns, env, image))
      if (c->status)
        for (const api::PinHistoryEntry& h : c->status->history)
          if (h.version == version) return true;
    return false;
  }

  // (7) each gate names an environment with a pin of the image, and an exact version can
  // pass it.
  void CheckGates(const PinDoc& p) {
    const auto& reqs = p.p.spec.promotion->require_pinned_in;
    for (size_t i = 0; i < reqs.size(); ++i) {
      const std::string field =
          api::IndexPath("spec.promotion.requirePinnedIn", i) + ".environment";
      const std::string& env = reqs[i].environment;
      auto others = PinsOf(p.ns, p.p.spec.image, env);
      if (others.empty()) {
        Add(p, field,
            "no EnvironmentPin of image " + p.p.spec.image + " for environment " + env +
                " in namespace " + p.ns + " in this tree: the gate can never open");
        continue;
      }
      if (!p.p.spec.version) continue;  // a tracking pin moves to what its gates allow
      const std::string& v = *p.p.spec.version;
      const api::EnvironmentPin& o = others.front()->p;
      std::string blocked;
      if (o.spec.version && *o.spec.version != v) {
        blocked = env + " pins " + *o.spec.version + " in this tree";
      } else if (o.spec.track) {
        auto range = api::ParseRange(o.spec.track->semver);
        auto parsed = api::ParseReleaseVersion(v);
        if (range.ok() && parsed.ok() && !range->Satisfies(*parsed))
          blocked = env + " tracks \"" + o.spec.track->semver + "\", which excludes " + v;
      }
      if (blocked.empty()) continue;
      if (ClusterHistoryHas(p.ns, p.p.spec.environment, p.p.spec.image, v) ||
          ClusterHistoryHas(p.ns, env, p.p.spec.image, v))
        continue;  // a rollback, or the gate was met in the past
      Add(p, field,
          "version " + v + " cannot pass this gate: " + blocked + ", so it never runs " + v +
              (options_.cluster ? " (and never did, says the cluster)"
                                : " (unless it ran it before: check with --cluster)"));
    }
  }

  // (7) the gates of one image in one namespace form no cycle; every edge on one is reported.
  void CheckGateCycles() {
    using Key = std::pair<std::string, std::string>;  // namespace, image
    std::map<Key, std::map<std::string, std::set<std::string>>> graphs;
    for (const PinDoc& p : pins_)
      if (p.valid && p.p.spec.promotion)
        for (const auto& r : p.p.spec.promotion->require_pinned_in)
          graphs[{p.ns, p.p.spec.image}][p.p.spec.environment].insert(r.environment);
    for (const PinDoc& p : pins_) {
      if (!p.valid || !p.p.spec.promotion) continue;
      const auto& graph = graphs[{p.ns, p.p.spec.image}];
      const auto& reqs = p.p.spec.promotion->require_pinned_in;
      for (size_t i = 0; i < reqs.size(); ++i) {
        // A path from the required environment back to this one closes a cycle.
        std::vector<std::string> path =
            PathBetween(graph, reqs[i].environment, p.p.spec.environment);
        if (path.empty()) continue;
        std::string cycle = p.p.spec.environment;
        for (const std::string& e : path) cycle += " -> " + e;
        Add(p, api::IndexPath("spec.promotion.requirePinnedIn", i) + ".environment",
            "promotion gates form a cycle (" + cycle +
                "): each waits for the other, so none of these pins can move");
      }
    }
  }

  // Breadth first: the environments from `from` to `to` (both included), or empty.
  static std::vector<std::string> PathBetween(
      const std::map<std::string, std::set<std::string>>& graph, const std::string& from,
      const std::string& to) {
    std::map<std::string, std::string> parent{{from, ""}};
    std::vector<std::string> queue{from};
    for (size_t q = 0; q < queue.size(); ++q) {
      const std::string cur = queue[q];
      if (cur == to) {
        std::vector<std::string> path;
        for (std::string at = to; !at.empty(); at = parent[at]) path.push_back(at);
        std::reverse(path.begin(), path.end());
        return path;
      }
      auto it = graph.find(cur);
      if (it == graph.end()) continue;
      for (const std::string& next : it->second)
        if (parent.emplace(next, cur).second) queue.push_back(next);
    }
    return {};
  }

  const VerifyOptions& options_;
  VerifyReport& report_;
  std::vector<ReleaseDoc> releases_;
  std::vector<PinDoc> pins_;
};

StatusOr<std::vector<std::string>> YamlFiles(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return InvalidArgumentError(dir + " is not a directory");
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return NotFoundError("cannot read " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return NotFoundError("cannot read " + dir + ": " + ec.message());
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec) && name.size() > 1 && name[0] == '.') {
      it.disable_recursion_pending();  // .git and friends
      continue;
    }
    const std::string ext = it->path().extension().string();
    if (it->is_regular_file(ec) && (ext == ".yaml" || ext == ".yml"))
      files.push_back(it->path().lexically_normal().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string VerifyProblem::ToString() const {
  std::string out = file;
  if (!object.empty()) out += ": " + object;
  if (!field.empty()) out += ": " + field;
  return out + ": " + message;
}

StatusOr<VerifyReport> VerifyTree(const std::string& dir, const VerifyOptions& options) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, YamlFiles(dir));
  VerifyReport report;
  Verifier v(options, report);
  for (const std::string& f : files) v.ReadFile(f);
  v.CrossCheck();
  // File order, then the order found (stable).
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const VerifyProblem& a, const VerifyProblem& b) { return a.file < b.file; });
  return report;
}

StatusOr<std::vector<std::string>> TreeNamespaces(const std::string& dir,
                                                  const std::string& default_namespace) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, YamlFiles(dir));
  std::set<std::string> out;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    auto docs = api::ParseYamlDocuments(text.str());
    if (!docs.ok()) continue;
    for (const Json& d : *docs) {
      if (!d.is_object() || d.value("apiVersion", Json()) != kApiVersion) continue;
      const Json* ns = kube::Find(d, {"metadata", "namespace"});
      out.insert(ns && ns->is_string() ? ns->get<std::string>() : default_namespace);
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

int RunVerify(const VerifyArgs& args, OutputFormat output, std::ostream& out, std::ostream& err) {
  VerifyOptions options{.default_namespace = args.ns};
  World cluster;
  if (args.cluster) {
    auto namespaces = TreeNamespaces(args.dir, args.ns);
    if (!namespaces.ok()) {
      err << "error: " << namespaces.status().message() << "\n";
      return 2;
    }
    for (const std::string& ns : *namespaces) {
      auto w = LoadWorld(*args.cluster, ns);
      if (!w.ok()) {
        err << "error: reading namespace " << ns << " of the cluster: " << w.status().ToString()
            << "\n";
        return 1;
      }
      for (auto& p : w->pins) cluster.pins.push_back(std::move(p));
      for (auto& r : w->releases) cluster.releases.push_back(std::move(r));
    }
    options.cluster = &cluster;
  }
  auto report = VerifyTree(args.dir, options);
  if (!report.ok()) {
    err << "error: " << report.status().message() << "\n";
    return 2;
  }
  if (report->releases + report->pins == 0 && report->problems.empty())
    report->problems.push_back(
        {args.dir, "", "", "no ImageRelease or EnvironmentPin manifest under this directory"});
  if (output != OutputFormat::kTable) {
    Json problems = Json::array();
    for (const VerifyProblem& p : report->problems)
      problems.push_back(
          {{"file", p.file}, {"object", p.object}, {"field", p.field}, {"message", p.message}});
    Json j = {{"problems", problems},
              {"files", report->files},
              {"releases", report->releases},
              {"pins", report->pins}};
    out << (output == OutputFormat::kYaml ? JsonToYaml(j) : j.dump(2) + "\n");
  } else {
    for (const VerifyProblem& p : report->problems) out << p.ToString() << "\n";
  }
  const std::string counts = std::to_string(report->files) + " file(s), " +
                             std::to_string(report->releases) + " ImageRelease(s), " +
                             std::to_string(report->pins) + " EnvironmentPin(s)" +
                             (args.cluster ? ", against the cluster" : "");
  if (report->problems.empty()) {
    if (output == OutputFormat::kTable) out << "verified " << counts << ": no problems\n";
    return 0;
  }
  err << report->problems.size() << " problem(s) in " << counts << "\n";
  return 1;
}

}  // namespace vmrelease::cli
