// vmrelease-apidocs: writes docs/api.md from crds/*.yaml and the template, or
// checks (--check) that the committed file is what it would write.
//
//   vmrelease-apidocs                      # from the repository root
//   vmrelease-apidocs --check --crds /repo/crds --out /repo/docs/api.md
//                     --template /repo/tools/apidocs/api.md.in
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "controller/api/manifest.h"
#include "tools/apidocs/render.h"

namespace {

std::string Read(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Generates the API reference (docs/api.md) from the CRD schemas"};
  std::string crds_dir = "crds";
  std::string template_path = "tools/apidocs/api.md.in";
  std::string out_path = "docs/api.md";
  bool check = false;
  app.add_option("--crds", crds_dir, "Directory with the CRD YAML files");
  app.add_option("--template", template_path, "Markdown template with {{...}} directives");
  app.add_option("--out", out_path, "The reference to write (or check)");
  app.add_flag("--check", check, "Exit 1 if --out differs from what would be generated");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(crds_dir, ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  if (ec || files.empty()) {
    std::cerr << "vmrelease-apidocs: no CRD YAML files in " << crds_dir << "\n";
    return 2;
  }
  std::sort(files.begin(), files.end());
  std::vector<nlohmann::ordered_json> crds;
  for (const auto& file : files) {
    bool read_ok = false;
    auto docs = vmrelease::api::ParseYamlDocumentsOrdered(Read(file, &read_ok));
    if (!read_ok || !docs.ok()) {
      std::cerr << "vmrelease-apidocs: " << file << ": "
                << (read_ok ? docs.status().message() : "cannot read") << "\n";
      return 2;
    }
    for (auto& d : *docs) {
      if (d.value("kind", "") == "CustomResourceDefinition") crds.push_back(std::move(d));
    }
  }
  bool ok = false;
  std::string template_text = Read(template_path, &ok);
  if (!ok) {
    std::cerr << "vmrelease-apidocs: cannot read " << template_path << "\n";
    return 2;
  }
  auto doc = vmrelease::apidocs::RenderApiDoc(crds, template_text);
  if (!doc.ok()) {
    std::cerr << "vmrelease-apidocs: " << doc.status().message() << "\n";
    return 2;
  }
  if (check) {
    std::string current = Read(out_path, &ok);
    if (ok && current == *doc) {
      std::cout << out_path << " is up to date\n";
      return 0;
    }
    std::cerr << out_path << " is stale: regenerate it with vmrelease-apidocs (from the repository "
              << "root: build/bin/vmrelease-apidocs) and commit the result\n";
    std::istringstream a(current), b(*doc);
    std::string la, lb;
    for (int n = 1; ok; ++n) {
      bool ea = !std::getline(a, la), eb = !std::getline(b, lb);
      if (ea && eb) break;
      if (ea || eb || la != lb) {
        std::cerr << "first difference at line " << n << ":\n  committed: " << (ea ? "<end>" : la)
                  << "\n  generated: " << (eb ? "<end>" : lb) << "\n";
        break;
      }
    }
    return 1;
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << *doc;
  if (!out) {
    std::cerr << "vmrelease-apidocs: cannot write " << out_path << "\n";
    return 2;
  }
  std::cout << "wrote " << out_path << "\n";
  return 0;
}
