// revoke: sets an ImageRelease's spec.revocation (docs/api.md, "Revocation").
#include "controller/cli/internal.h"

namespace vmrelease::cli {

using internal::Fail;

int RunRevoke(Context& ctx, const RevokeArgs& args) {
  if (args.reason.empty() || args.reason.size() > 1024)
    return Fail(ctx, "--reason must be 1 to 1024 characters (spec.revocation.reason)");
  if (args.reference.size() > 512)
    return Fail(ctx, "--reference must be at most 512 characters (spec.revocation.reference)");
  auto world = LoadWorld(ctx.client, ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  const World& w = *world;
  std::vector<const kube::Json*> matches;
  std::vector<std::string> images;
  for (const kube::Json& r : w.releases) {
    auto v = pin::ViewOfRelease(r);
    if (!v || v->version != args.version) continue;
    if (!args.image.empty() && v->image != args.image) continue;
    matches.push_back(&r);
    if (std::find(images.begin(), images.end(), v->image) == images.end())
      images.push_back(v->image);
  }
  const std::string image_note = args.image.empty() ? "" : " of image " + args.image;
  if (matches.empty())
    return Fail(ctx, "no ImageRelease" + image_note + " has version " + args.version +
                         " in namespace " + ctx.ns + "; nothing revoked");
  if (images.size() > 1) {
    std::string list;
    for (const std::string& i : images) list += (list.empty() ? "" : ", ") + i;
    return Fail(ctx, "version " + args.version + " exists for several images (" + list +
                         "); choose one with --image");
  }
  const std::string image = images.front();
  // Every object of that version (duplicates included): none may stay usable.
  kube::Json out = kube::Json::array();
  for (const kube::Json* r : matches) {
    kube::Json revocation = {{"reason", args.reason}};
    if (!args.reference.empty()) revocation["reference"] = args.reference;
    const kube::Json* current = kube::Find(*r, {"spec", "revocation"});
    const bool unchanged = current && *current == revocation;
    if (!unchanged) {
      kube::Json patch = {{"metadata", {{"resourceVersion", kube::ResourceVersion(*r)}}},
                          {"spec", {{"revocation", revocation}}}};
      auto p = ctx.client.Patch(ReleaseType(), {kube::Namespace(*r), kube::Name(*r)},
                                kube::PatchType::kMerge, patch);
      if (!p.ok())
        return Fail(ctx, "ImageRelease " + kube::Name(*r) + ": " + p.status().ToString());
    }
    out.push_back({{"release", kube::Name(*r)},
                   {"image", image},
                   {"version", args.version},
                   {"reason", args.reason},
                   {"changed", !unchanged}});
  }
  // Who runs it now: those pins turn Ready=False (ReleaseRevoked) and keep running it.
  kube::Json running = kube::Json::array();
  for (const api::EnvironmentPin& p : w.pins)
    if (p.metadata.ns == ctx.ns && p.spec.image == image && ResolvedVersion(p) == args.version)
      running.push_back(p.spec.environment);
  if (ctx.output != OutputFormat::kTable) {
    internal::PrintStructured(ctx, {{"revoked", out}, {"runningIn", running}});
    return 0;
  }
  for (const kube::Json& o : out)
    ctx.out << Paint(image + " " + args.version, Colour::kBold, ctx.colour) << ": ImageRelease "
            << o["release"].get<std::string>()
            << (o["changed"].get<bool>() ? " revoked" : " already revoked with this reason") << " ("
            << args.reason << ")\n";
  if (running.empty()) {
    ctx.out << "  no environment runs it\n";
  } else {
    std::string envs;
    for (const auto& e : running) envs += (envs.empty() ? "" : ", ") + e.get<std::string>();
    ctx.out << "  " << Paint("still running it:", Colour::kYellow, ctx.colour) << " " << envs
            << " (they turn Ready=False, reason ReleaseRevoked, and keep it until you move them: "
               "kubectl vmrelease rollback ENV / promote)\n";
  }
  return 0;
}

}  // namespace vmrelease::cli
