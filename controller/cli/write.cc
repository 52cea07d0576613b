// promote and rollback: move pins, in the cluster or in a GitOps file.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "controller/cli/gitops.h"
#include "controller/cli/internal.h"

namespace vmrelease::cli {
namespace {

using internal::Fail;

// One pin to move.
struct Move {
  const api::EnvironmentPin* pin;
  std::string from;  // what it runs now ("" without a resolution)
  std::string to;
  std::vector<api::ChangeRecord> changes;
  bool forward = true;
  // The target's promotion gates hold `to` (the controller will wait): why, and how long.
  std::string held;
};

StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Atomically (temporary file + rename), so a failure never leaves half a file.
Status WriteWhole(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".vmrelease-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return UnavailableError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return UnavailableError("cannot replace " + path);
  }
  return Status::Ok();
}

Move Plan(const World& w, const std::string& ns, const api::EnvironmentPin& p,
          const std::string& to, WallTime now) {
  Move m{.pin = &p, .from = ResolvedVersion(p), .to = to};
  // A version from the pin's own history skips the gates (pin/resolve.h).
  bool in_history = false;
  if (p.status)
    for (const api::PinHistoryEntry& h : p.status->history) in_history |= h.version == to;
  if (!in_history && m.from != to) {
    pin::GateResult g = pin::CheckGates(p, to, w.Others(p), now);
    if (!g.open) {
      m.held = g.message;
      if (g.opens_at) m.held += " (" + internal::Human(*g.opens_at - now) + " left)";
    }
  }
  auto a = api::ParseReleaseVersion(m.from), b = api::ParseReleaseVersion(to);
  m.forward = !a.ok() || !b.ok() || !(*b < *a);
  if (m.from != to) m.changes = pin::ChangesBetween(m.from, to, w.Views(ns, p.spec.image));
  return m;
}

// Applies the moves: one merge patch per pin (spec.version set, spec.track removed,
// resourceVersion as precondition), or one edit of the GitOps file.
int Apply(Context& ctx, const std::vector<Move>& moves, const std::string& gitops_file,
          const std::string& verb) {
  if (!gitops_file.empty()) {
    auto text = ReadWhole(gitops_file);
    if (!text.ok()) return Fail(ctx, text.status().message());
    std::string edited = *text;
    for (const Move& m : moves) {
      auto next = SetPinVersion(edited, {m.pin->spec.environment, m.pin->spec.image}, m.to);
      if (!next.ok()) return Fail(ctx, gitops_file + ": " + next.status().message());
      edited = std::move(*next);
    }
    if (Status s = WriteWhole(gitops_file, edited); !s.ok()) return Fail(ctx, s.message());
  } else {
    for (const Move& m : moves) {
      kube::Json patch = {{"metadata", {{"resourceVersion", m.pin->metadata.resource_version}}},
                          {"spec", {{"version", m.to}, {"track", nullptr}}}};
      auto r = ctx.client.Patch(PinType(), {m.pin->metadata.ns, m.pin->metadata.name},
                                kube::PatchType::kMerge, patch);
      if (!r.ok())
        return Fail(ctx, "EnvironmentPin " + m.pin->metadata.name + ": " + r.status().ToString());
    }
  }
  kube::Json out = kube::Json::array();
  for (const Move& m : moves) {
    out.push_back({{"pin", m.pin->metadata.name},
                   {"environment", m.pin->spec.environment},
                   {"image", m.pin->spec.image},
                   {"from", m.from.empty() ? kube::Json() : kube::Json(m.from)},
                   {"to", m.to},
                   {"changes", internal::ChangesJson(m.changes, m.forward)}});
    if (!gitops_file.empty()) out.back()["gitopsFile"] = gitops_file;
    if (!m.held.empty()) out.back()["heldBy"] = m.held;
  }
  if (ctx.output != OutputFormat::kTable) {
    internal::PrintStructured(ctx, out);
    return 0;
  }
  for (const Move& m : moves) {
    ctx.out << Paint(m.pin->spec.environment + " / " + m.pin->spec.image, Colour::kBold, ctx.colour)
            << ": " << verb << " " << (m.from.empty() ? "(no resolution)" : m.from) << " -> "
            << m.to
            << (gitops_file.empty() ? " (EnvironmentPin " + m.pin->metadata.name + " patched)"
                                    : " (" + gitops_file + " edited; the cluster is unchanged)")
            << "\n";
    if (!m.held.empty())
      ctx.out << "  " << Paint("held:", Colour::kYellow, ctx.colour) << " " << m.held
              << "; the pin keeps " << (m.from.empty() ? "no resolution" : m.from)
              << " until then (see: kubectl vmrelease why " << m.pin->spec.environment << ")\n";
    if (m.from == m.to) continue;
    ctx.out << "  " << (m.forward ? "brings:" : "undoes:") << "\n";
    internal::PrintChanges(ctx, m.changes, m.forward, "  ");
  }
  return 0;
}

}  // namespace

int RunPromote(Context& ctx, const PromoteArgs& args) {
  if (args.from == args.to) return Fail(ctx, "--from and --to name the same environment");
  auto world = LoadWorld(ctx.client, ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  const World& w = *world;
  const std::string image_note = args.image.empty() ? "" : " and image " + args.image;
  auto sources = w.PinsOf(ctx.ns, args.from, args.image);
  if (sources.empty())
    return Fail(ctx, "no EnvironmentPin for environment " + args.from + image_note +
                         " in namespace " + ctx.ns);
  std::vector<Move> moves;
  for (const api::EnvironmentPin* src : sources) {
    auto targets = w.PinsOf(ctx.ns, args.to, src->spec.image);
    if (targets.empty()) {
      if (!args.image.empty() || sources.size() == 1)
        return Fail(ctx, "no EnvironmentPin for environment " + args.to + " and image " +
                             src->spec.image + " in namespace " + ctx.ns);
      continue;  // several images: promote those the target environment has
    }
    if (targets.size() > 1)
      return Fail(ctx, "environment " + args.to + " has " + std::to_string(targets.size()) +
                           " EnvironmentPins of image " + src->spec.image +
                           "; delete the duplicate first");
    const std::string version = ResolvedVersion(*src);
    if (version.empty())
      return Fail(ctx, "refusing to promote " + src->spec.image + ": " + args.from +
                           " has no resolved version (EnvironmentPin " + src->metadata.name + ")");
    const auto views = w.Views(ctx.ns, src->spec.image);
    if (auto why = internal::WhyNotDeployable(w, ctx.ns, version, views, ctx.now))
      return Fail(ctx, "refusing to promote " + src->spec.image + " " + version + " from " +
                           args.from + " to " + args.to + ": " + *why);
    moves.push_back(Plan(w, ctx.ns, *targets.front(), version, ctx.now));
  }
  if (moves.empty())
    return Fail(ctx, "environment " + args.to + " pins none of the images of " + args.from);
  return Apply(ctx, moves, args.gitops_file, "promote");
}

int RunRollback(Context& ctx, const RollbackArgs& args) {
  auto world = LoadWorld(ctx.client, ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  const World& w = *world;
  auto pins = w.PinsOf(ctx.ns, args.environment, args.image);
  if (pins.empty())
    return Fail(ctx, "no EnvironmentPin for environment " + args.environment +
                         (args.image.empty() ? "" : " and image " + args.image) + " in namespace " +
                         ctx.ns);
  if (pins.size() > 1) {
    std::string images;
    for (auto* p : pins) images += (images.empty() ? "" : ", ") + p->spec.image;
    return Fail(ctx, "environment " + args.environment + " pins several images (" + images +
                         "); choose one with --image");
  }
  const api::EnvironmentPin& p = *pins.front();
  const std::string current = ResolvedVersion(p);
  std::string target = args.to_version;
  if (target.empty()) {
    // The newest history entry on another version than the current one.
    if (p.status)
      for (const api::PinHistoryEntry& h : p.status->history)
        if (h.version != current) {
          target = h.version;
          break;
        }
    if (target.empty())
      return Fail(ctx, "refusing to roll back " + args.environment + " / " + p.spec.image +
                           ": its history has no earlier version (give one with --to)");
  }
  if (!api::ParseReleaseVersion(target).ok())
    return Fail(ctx, "refusing to roll back to \"" + target +
                         "\": not a release version (MAJOR.MINOR.PATCH)");
  // (With --gitops the file, not the cluster, is what changes: it may say something else.)
  if (args.gitops_file.empty() && target == current && p.spec.version == current)
    return Fail(ctx, args.environment + " / " + p.spec.image + " already runs " + target);
  const auto views = w.Views(ctx.ns, p.spec.image);
  if (auto why = internal::WhyNotDeployable(w, ctx.ns, target, views, ctx.now))
    return Fail(ctx, "refusing to roll back " + args.environment + " / " + p.spec.image + " to " +
                         target + ": " + *why);
  return Apply(ctx, {Plan(w, ctx.ns, p, target, ctx.now)}, args.gitops_file, "roll back");
}

}  // namespace vmrelease::cli
