// Helpers for the api tests: where the examples and the corpus are, and how a
// manifest file is read and dispatched by kind.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "controller/api/environment_pin.h"
#include "controller/api/image_release.h"
#include "controller/api/manifest.h"
#include "tests/support/testing/process.h"

namespace vmrelease::api::testing {

// Sorted paths of the *.yaml files in `dir` (relative to the repository root).
inline std::vector<std::string> YamlFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::directory_iterator(vmrelease::testing::SourceDir() + "/" + dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline std::vector<std::string> ExampleFiles() { return YamlFiles("deploy/examples"); }
inline std::vector<std::string> CorpusFiles() { return YamlFiles("tests/testdata/invalid"); }
inline std::vector<std::string> CrdFiles() { return YamlFiles("crds"); }

// "release-job-packer" from ".../release-job-packer.yaml", usable as a gtest name.
inline std::string TestName(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return stem;
}

// Parses and re-serialises a document of either kind.
inline StatusOr<Json> RoundTrip(const Json& doc) {
  std::string kind = doc.value("kind", "");
  if (kind == kImageReleaseKind) {
    ASSIGN_OR_RETURN(ImageRelease r, ParseImageRelease(doc));
    return ToJson(r);
  }
  if (kind == kEnvironmentPinKind) {
    ASSIGN_OR_RETURN(EnvironmentPin p, ParseEnvironmentPin(doc));
    return ToJson(p);
  }
  return InvalidArgumentError("unexpected kind " + kind);
}

// A corpus file's header: "# rejected-by: apiserver|semantic" and "# expect: <substring>".
struct CorpusCase {
  std::string path;
  std::string rejected_by;
  std::string expect;
  std::vector<Json> docs;  // one (create) or two (stored object, then the update)
};

inline CorpusCase LoadCorpusCase(const std::string& path) {
  CorpusCase c;
  c.path = path;
  std::string text = vmrelease::testing::ReadFile(path);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && line.starts_with("#")) {
    if (line.starts_with("# rejected-by: ")) c.rejected_by = line.substr(15);
    if (line.starts_with("# expect: ")) c.expect = line.substr(10);
  }
  auto docs = ParseYamlDocuments(text);
  if (docs.ok()) c.docs = *docs;
  return c;
}

// The corpus files rejected by `rejected_by` ("apiserver" or "semantic").
inline std::vector<std::string> CorpusFiles(const std::string& rejected_by) {
  std::vector<std::string> out;
  for (const auto& f : CorpusFiles()) {
    if (LoadCorpusCase(f).rejected_by == rejected_by) out.push_back(f);
  }
  return out;
}

}  // namespace vmrelease::api::testing
