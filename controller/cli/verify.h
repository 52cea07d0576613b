// `kubectl vmrelease verify DIR`: the pre-merge check of a GitOps tree, offline (or,
// with a cluster, against what the cluster has Released).
//
//   VerifyOptions options{.default_namespace = "default"};
//   ASSIGN_OR_RETURN(VerifyReport report, VerifyTree("clusters/", options));
//   for (const VerifyProblem& p : report.problems) std::cout << p.ToString() << "\n";
//   // clusters/prod/pins.yaml: EnvironmentPin/app-production: spec.version: no ImageRelease
//   //   of image app has version 9.9.9 in namespace default
//
// Every *.yaml / *.yml file under the directory (hidden directories skipped) is read as a
// multi-document YAML stream the way kubectl reads it (api/manifest.h). Documents of
// kind ImageRelease or EnvironmentPin (vmrelease.io/v1alpha1) are checked; other kinds
// are ignored. Checks, in this order per object:
//   1. the document parses and has the API's types (api::Parse*, which names the field),
//      no field the CRD does not declare (the API server would drop it silently), and a
//      metadata.name;
//   2. api::Validate (the CRDs' rules and the controller's), after the CRD defaults;
//   3. the CRD's openAPIV3Schema for the object's apiVersion (the CRDs are compiled in,
//      see embedded_crds.h), run as the API server runs it (api/openapi_schema.h: prune,
//      default, validate): patterns, lengths, enums, bounds, types, required fields, with
//      the API server's message; a field 1 or 2 already reported is not reported again;
// and across the tree, per namespace (metadata.namespace, else the default namespace):
//   4. one object per kind and name; one ImageRelease per image and version;
//      one EnvironmentPin per environment and image;
//   5. an exact spec.version names a release of the tree that is not revoked; with a
//      cluster, one that is Released there and not revoked, being deleted or past its end
//      of life (the tree's own spec.revocation counts too: it is what will be applied);
//   6. spec.track.semver matches at least one such release;
//   7. spec.promotion.requirePinnedIn names an environment that has a pin of the image,
//      the gates do not form a cycle, and an exact pin's version can pass its gates: each
//      required environment pins that version, or tracks a range that includes it.
//
// Guarantees: every problem is reported (never stops at the first), in file order, each
// naming the file, the object and the field path as the API server names fields.
#pragma once

#include <string>
#include <vector>

#include "controller/cli/commands.h"
#include "controller/cli/world.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::cli {

struct VerifyProblem {
  std::string file;     // as found under the directory, e.g. "gitops/prod/pins.yaml"
  std::string object;   // "EnvironmentPin/app-production", "" for the whole file
  std::string field;    // "spec.version", "" for the whole document
  std::string message;  // what is wrong, and what would make it right

  // "FILE: OBJECT: FIELD: MESSAGE" (empty parts left out).
  std::string ToString() const;
};

struct VerifyReport {
  std::vector<VerifyProblem> problems;
  int files = 0;  // YAML files read
  int releases = 0;
  int pins = 0;
};

struct VerifyOptions {
  std::string default_namespace = "default";
  // The cluster's releases (LoadWorld of each namespace the tree uses): exact pins and
  // ranges must then name versions Released there. nullptr: the tree alone.
  const World* cluster = nullptr;
  WallTime now = RealClock().WallNow();  // for end of life
};

// Errors only when `dir` cannot be read (not a directory): kInvalidArgument / kNotFound.
StatusOr<VerifyReport> VerifyTree(const std::string& dir, const VerifyOptions& options);

// The namespaces the tree's ImageReleases and EnvironmentPins are in (to load a cluster).
StatusOr<std::vector<std::string>> TreeNamespaces(const std::string& dir,
                                                  const std::string& default_namespace);

// The command: prints one line per problem (or, with -o json|yaml, {problems, files,
// releases, pins}) and returns 0 when the tree is clean, 1 with problems (or when the
// cluster cannot be read), 2 when `dir` is not a directory. `cluster` (may be null
// without --cluster) is read for each namespace the tree uses.
struct VerifyArgs {
  std::string dir;
  std::string ns = "default";  // for manifests without metadata.namespace
  kube::KubeClient* cluster = nullptr;
};
int RunVerify(const VerifyArgs& args, OutputFormat output, std::ostream& out, std::ostream& err);

}  // namespace vmrelease::cli
