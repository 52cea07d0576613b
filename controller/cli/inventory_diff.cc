#include "controller/cli/inventory_diff.h"

#include "controller/cli/output.h"
#include "controller/inventory/store.h"
#include "controller/kube/resource.h"

namespace vmrelease::cli {
namespace {

using Json = kube::Json;

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

struct Side {
  Json json;
  std::optional<inventory::Inventory> inventory;
};

Side Load(kube::KubeClient& client, const World& world, const std::string& ns,
          const std::string& release) {
  Side side{{{"release", release}}, std::nullopt};
  auto missing = [&](const std::string& why) {
    side.json["missing"] = why;
    return side;
  };
  if (release.empty()) return missing("the pin records no release name");
  const Json* obj = world.Release(ns, release);
  if (!obj) return missing("ImageRelease " + release + " not found");
  const Json* inv = kube::Find(*obj, {"status", "inventory"});
  if (!inv || !inv->is_object()) return missing("ImageRelease " + release + " has no inventory");
  const std::string cm = Str(*inv, "configMap"), sha = Str(*inv, "sha256");
  if (cm.empty() || sha.empty())
    return missing(Str(*inv, "message").empty() ? "ImageRelease " + release + " has no inventory"
                                                : Str(*inv, "message"));
  side.json["configMap"] = cm;
  side.json["sha256"] = sha;
  StatusOr<inventory::Inventory> read = inventory::ReadInventory(client, ns, cm, sha);
  if (!read.ok()) return missing(read.status().message());
  side.json["packages"] = read->packages.size();
  side.json["files"] = read->files.size();
  side.inventory = std::move(*read);
  return side;
}

std::string Short(const std::string& sha) { return sha.size() > 12 ? sha.substr(0, 12) : sha; }

std::string FileDetail(const Json& f) {
  std::string out;
  if (f.contains("size")) out += std::to_string(f["size"].get<int64_t>()) + " bytes";
  if (f.contains("mode")) out += (out.empty() ? "" : ", mode ") + f["mode"].get<std::string>();
  if (f.contains("sha256"))
    out += (out.empty() ? "" : ", ") + Short(f["sha256"].get<std::string>());
  return out;
}

std::string FileChangeDetail(const Json& from, const Json& to) {
  std::vector<std::string> parts;
  if (from.value("sha256", "") != to.value("sha256", ""))
    parts.push_back("sha256 " + Short(from.value("sha256", "-")) + " -> " +
                    Short(to.value("sha256", "-")));
  if (from.value("size", int64_t{0}) != to.value("size", int64_t{0}))
    parts.push_back("size " + std::to_string(from.value("size", int64_t{0})) + " -> " +
                    std::to_string(to.value("size", int64_t{0})));
  if (from.value("mode", "") != to.value("mode", ""))
    parts.push_back("mode " + from.value("mode", "-") + " -> " + to.value("mode", "-"));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

Json InventoryDiffJson(kube::KubeClient& client, const World& world, const std::string& ns,
                       const std::string& release_a, const std::string& release_b) {
  Side a = Load(client, world, ns, release_a);
  Side b = Load(client, world, ns, release_b);
  Json out = {{"available", a.inventory && b.inventory}, {"a", a.json}, {"b", b.json}};
  if (!a.inventory || !b.inventory) {
    out["reason"] = !a.inventory ? Str(a.json, "missing") : Str(b.json, "missing");
    return out;
  }
  Json diff = inventory::DiffToJson(inventory::DiffInventories(*a.inventory, *b.inventory));
  out["packages"] = std::move(diff["packages"]);
  out["files"] = std::move(diff["files"]);
  return out;
}

void PrintInventoryDiff(Context& ctx, const Json& inv, const std::string& env_a,
                        const std::string& env_b, const std::string& indent) {
  if (!inv.value("available", false)) {
    ctx.out << indent << "packages and files: not compared: "
            << (inv["a"].contains("missing") ? env_a : env_b) << " ("
            << Str(inv[inv["a"].contains("missing") ? "a" : "b"], "release")
            << "): " << inv.value("reason", std::string()) << "\n";
    return;
  }
  const Json& p = inv["packages"];
  ctx.out << indent << "packages (" << env_a << " " << inv["a"]["packages"].get<size_t>() << " -> "
          << env_b << " " << inv["b"]["packages"].get<size_t>() << "): " << p["added"].size()
          << " added, " << p["removed"].size() << " removed, " << p["changed"].size()
          << " changed\n";
  for (const Json& e : p["added"])
    ctx.out << indent << "  " << Paint("+", Colour::kGreen, ctx.colour) << " " << Str(e, "name")
            << " " << Str(e, "version") << "\n";
  for (const Json& e : p["removed"])
    ctx.out << indent << "  " << Paint("-", Colour::kRed, ctx.colour) << " " << Str(e, "name")
            << " " << Str(e, "version") << "\n";
  for (const Json& e : p["changed"])
    ctx.out << indent << "  " << Paint("~", Colour::kYellow, ctx.colour) << " " << Str(e, "name")
            << " " << Str(e, "from") << " -> " << Str(e, "to") << "\n";
  const Json& f = inv["files"];
  ctx.out << indent << "files (" << env_a << " " << inv["a"]["files"].get<size_t>() << " -> "
          << env_b << " " << inv["b"]["files"].get<size_t>() << "): " << f["added"].size()
          << " added, " << f["removed"].size() << " removed, " << f["changed"].size()
          << " changed\n";
  for (const Json& e : f["added"])
    ctx.out << indent << "  " << Paint("+", Colour::kGreen, ctx.colour) << " " << Str(e, "path")
            << " (" << FileDetail(e) << ")\n";
  for (const Json& e : f["removed"])
    ctx.out << indent << "  " << Paint("-", Colour::kRed, ctx.colour) << " " << Str(e, "path")
            << " (" << FileDetail(e) << ")\n";
  for (const Json& e : f["changed"])
    ctx.out << indent << "  " << Paint("~", Colour::kYellow, ctx.colour) << " " << Str(e, "path")
            << " (" << FileChangeDetail(e["from"], e["to"]) << ")\n";
}

}  // namespace vmrelease::cli
