// status, history, why and diff: read-only views of pins and releases.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "controller/api/meta.h"
#include "controller/cli/internal.h"
#include "controller/cli/inventory_diff.h"
#include "controller/common/duration.h"

namespace vmrelease::cli {
namespace {

using internal::Fail;
using internal::Human;
using internal::PrintStructured;

// Environments in promotion order: an environment comes after every environment its
// pins' gates require (dev before staging before production), then by name.
std::vector<std::string> OrderEnvironments(const std::vector<const api::EnvironmentPin*>& pins) {
  std::map<std::string, std::set<std::string>> needs;
  for (const api::EnvironmentPin* p : pins) {
    auto& n = needs[p->spec.environment];
    if (p->spec.promotion)
      for (const auto& r : p->spec.promotion->require_pinned_in) n.insert(r.environment);
  }
  std::map<std::string, int> rank;
  std::function<int(const std::string&, int)> rank_of = [&](const std::string& env, int depth) {
    if (auto it = rank.find(env); it != rank.end()) return it->second;
    int r = 0;
    if (depth < 32) {  // a cycle in the gates must not recurse forever
      for (const std::string& n : needs[env])
        if (needs.count(n)) r = std::max(r, rank_of(n, depth + 1) + 1);
    }
    return rank[env] = r;
  };
  std::vector<std::string> envs;
  for (const auto& [env, _] : needs) envs.push_back(env);
  for (const std::string& e : envs) rank_of(e, 0);
  std::stable_sort(envs.begin(), envs.end(),
                   [&](const auto& a, const auto& b) { return rank[a] < rank[b]; });
  return envs;
}

bool ResolvedRevoked(const World& w, const api::EnvironmentPin& p) {
  const api::Condition* ready = ReadyCondition(p);
  if (ready && ready->reason == api::kReasonReleaseRevoked) return true;
  if (!p.status || !p.status->resolved || !p.status->resolved->release) return false;
  const kube::Json* rel = w.Release(p.metadata.ns, *p.status->resolved->release);
  if (!rel) return false;
  auto v = pin::ViewOfRelease(*rel);
  return v && v->revoked;
}

kube::Json PinSummary(const World& w, const api::EnvironmentPin& p) {
  kube::Json j = {{"pin", p.metadata.name},
                  {"namespace", p.metadata.ns},
                  {"environment", p.spec.environment},
                  {"image", p.spec.image}};
  const std::string v = ResolvedVersion(p);
  j["version"] = v.empty() ? kube::Json() : kube::Json(v);
  if (p.spec.version)
    j["wants"] = *p.spec.version;
  else if (p.spec.track)
    j["wants"] = "track " + p.spec.track->semver;
  const api::Condition* ready = ReadyCondition(p);
  j["ready"] = ready && ready->status == api::ConditionStatus::kTrue;
  j["reason"] = ready ? ready->reason : "";
  j["message"] = ready ? ready->message : "";
  j["behindBy"] = p.status && p.status->behind_by ? *p.status->behind_by : 0;
  if (p.status && p.status->latest_version) j["latestVersion"] = *p.status->latest_version;
  j["revoked"] = ResolvedRevoked(w, p);
  return j;
}

// One status cell: the version and what a person should notice about it.
Cell StatusCell(const kube::Json& s) {
  std::string text = s["version"].is_string() ? s["version"].get<std::string>() : "-";
  Colour c = Colour::kGreen;
  if (s["revoked"].get<bool>()) {
    text += " REVOKED";
    c = Colour::kRed;
  } else if (!s["ready"].get<bool>()) {
    text += " (" +
            (s["reason"].get<std::string>().empty() ? std::string("NotReady")
                                                    : s["reason"].get<std::string>()) +
            ")";
    c = Colour::kRed;
  }
  if (const int64_t behind = s["behindBy"].get<int64_t>(); behind > 0) {
    text += " behind " + std::to_string(behind);
    if (c == Colour::kGreen) c = Colour::kYellow;
  }
  return {text, c};
}

bool InFlight(const kube::Json& release) {
  const kube::Json* phase = kube::Find(release, {"status", "phase"});
  const std::string p = phase && phase->is_string() ? phase->get<std::string>() : "";
  if (p == "Released" || p == "Failed" || p == "Revoked") return false;
  return !kube::Find(release, {"spec", "revocation"});
}

std::string Str(const kube::Json& obj, std::initializer_list<std::string_view> path) {
  const kube::Json* v = kube::Find(obj, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

int RunStatus(Context& ctx) {
  auto world = LoadWorld(ctx.client, ctx.all_namespaces ? "" : ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  const World& w = *world;
  std::vector<const api::EnvironmentPin*> all;
  for (const auto& p : w.pins) all.push_back(&p);
  const std::vector<std::string> envs = OrderEnvironments(all);

  // (namespace, image) -> environment -> summary; the first pin of an environment wins
  // (a duplicate is Stalled and shows in `why`).
  std::map<std::pair<std::string, std::string>, std::map<std::string, kube::Json>> matrix;
  for (const auto& p : w.pins) {
    auto& row = matrix[{p.metadata.ns, p.spec.image}];
    if (!row.count(p.spec.environment)) row[p.spec.environment] = PinSummary(w, p);
  }
  kube::Json in_flight = kube::Json::array();
  for (const kube::Json& r : w.releases) {
    if (!InFlight(r)) continue;
    std::string phase = Str(r, {"status", "phase"});
    in_flight.push_back({{"namespace", kube::Namespace(r)},
                         {"name", kube::Name(r)},
                         {"image", Str(r, {"spec", "image"})},
                         {"version", Str(r, {"spec", "version"})},
                         {"phase", phase.empty() ? "Pending" : phase}});
  }

  if (ctx.output != OutputFormat::kTable) {
    kube::Json images = kube::Json::array();
    for (const auto& [key, row] : matrix) {
      kube::Json e = kube::Json::object();
      for (const auto& [env, s] : row) e[env] = s;
      images.push_back({{"namespace", key.first}, {"image", key.second}, {"environments", e}});
    }
    kube::Json out = {{"environments", envs}, {"images", images}, {"inFlight", in_flight}};
    PrintStructured(ctx, out);
    return 0;
  }
  if (matrix.empty() && in_flight.empty()) {
    ctx.out << "No EnvironmentPins or ImageReleases found"
            << (ctx.all_namespaces ? "" : " in namespace " + ctx.ns) << ".\n";
    return 0;
  }
  if (!matrix.empty()) {
    std::vector<std::string> headers;
    if (ctx.all_namespaces) headers.push_back("NAMESPACE");
    headers.push_back("IMAGE");
    for (const std::string& e : envs) {
      std::string h = e;
      std::transform(h.begin(), h.end(), h.begin(), ::toupper);
      headers.push_back(h);
    }
    Table t(headers);
    for (const auto& [key, row] : matrix) {
      std::vector<Cell> cells;
      if (ctx.all_namespaces) cells.emplace_back(key.first);
      cells.emplace_back(key.second);
      for (const std::string& e : envs) {
        auto it = row.find(e);
        cells.push_back(it == row.end() ? Cell("") : StatusCell(it->second));
      }
      t.Add(std::move(cells));
    }
    t.Print(ctx.out, ctx.colour);
  }
  if (!in_flight.empty()) {
    if (!matrix.empty()) ctx.out << "\n";
    ctx.out << "RELEASES IN FLIGHT\n";
    std::vector<std::string> headers;
    if (ctx.all_namespaces) headers.push_back("NAMESPACE");
    for (const char* h : {"NAME", "IMAGE", "VERSION", "PHASE"}) headers.emplace_back(h);
    Table t(headers);
    for (const kube::Json& r : in_flight) {
      std::vector<Cell> cells;
      if (ctx.all_namespaces) cells.emplace_back(r["namespace"].get<std::string>());
      for (const char* k : {"name", "image", "version", "phase"})
        cells.emplace_back(r[k].get<std::string>());
      t.Add(std::move(cells));
    }
    t.Print(ctx.out, ctx.colour);
  }
  return 0;
}

int RunHistory(Context& ctx, const EnvArgs& args) {
  auto world = LoadWorld(ctx.client, ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  auto pins = world->PinsOf(ctx.ns, args.environment, args.image);
  if (pins.empty())
    return Fail(ctx, "no EnvironmentPin for environment " + args.environment +
                         (args.image.empty() ? "" : " and image " + args.image) + " in namespace " +
                         ctx.ns);
  kube::Json out = kube::Json::array();
  for (const api::EnvironmentPin* p : pins) {
    kube::Json entries = kube::Json::array();
    if (p->status) {
      for (const api::PinHistoryEntry& h : p->status->history) {
        auto from = api::ParseTime(h.from);
        auto to = h.to ? api::ParseTime(*h.to) : std::optional<WallTime>(ctx.now);
        kube::Json e = {{"version", h.version},
                        {"release", h.release.value_or("")},
                        {"from", h.from},
                        {"to", h.to ? kube::Json(*h.to) : kube::Json()},
                        {"current", !h.to.has_value()},
                        {"reason", h.reason.value_or("")}};
        if (from && to)
          e["durationSeconds"] =
              std::chrono::duration_cast<std::chrono::seconds>(*to - *from).count();
        entries.push_back(std::move(e));
      }
    }
    out.push_back({{"pin", p->metadata.name},
                   {"environment", p->spec.environment},
                   {"image", p->spec.image},
                   {"history", entries}});
  }
  if (ctx.output != OutputFormat::kTable) {
    PrintStructured(ctx, out);
    return 0;
  }
  bool first = true;
  for (const kube::Json& p : out) {
    if (!first) ctx.out << "\n";
    first = false;
    ctx.out << Paint(p["environment"].get<std::string>() + " / " + p["image"].get<std::string>(),
                     Colour::kBold, ctx.colour)
            << " (EnvironmentPin " << p["pin"].get<std::string>() << ")\n";
    if (p["history"].empty()) {
      ctx.out << "  (no history: the pin has never resolved)\n";
      continue;
    }
    Table t({"VERSION", "RELEASE", "FROM", "TO", "DURATION", "REASON"});
    for (const kube::Json& e : p["history"]) {
      std::string duration = e.contains("durationSeconds")
                                 ? Human(std::chrono::seconds(e["durationSeconds"].get<int64_t>()))
                                 : "";
      if (e["current"].get<bool>()) duration += " (current)";
      t.Add({e["version"].get<std::string>(), e["release"].get<std::string>(),
             e["from"].get<std::string>(), e["to"].is_string() ? e["to"].get<std::string>() : "-",
             duration, e["reason"].get<std::string>()});
    }
    t.Print(ctx.out, ctx.colour);
  }
  return 0;
}

int RunWhy(Context& ctx, const EnvArgs& args) {
  auto world = LoadWorld(ctx.client, ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  const World& w = *world;
  auto pins = w.PinsOf(ctx.ns, args.environment, args.image);
  if (pins.empty())
    return Fail(ctx, "no EnvironmentPin for environment " + args.environment +
                         (args.image.empty() ? "" : " and image " + args.image) + " in namespace " +
                         ctx.ns);
  kube::Json out = kube::Json::array();
  for (const api::EnvironmentPin* p : pins) {
    kube::Json j = PinSummary(w, *p);
    const api::Condition* ready = ReadyCondition(*p);
    j["since"] = ready ? ready->last_transition_time : "";
    if (p->status && p->status->observed_generation &&
        p->metadata.generation.value_or(0) != *p->status->observed_generation)
      j["stale"] = true;  // the controller has not looked at the latest spec yet
    // The version the gates are judged for: the exact pin, or the newest usable one in range.
    const std::vector<pin::ReleaseView> views = w.Views(p->metadata.ns, p->spec.image);
    std::string want;
    if (p->spec.version) {
      want = *p->spec.version;
    } else if (p->spec.track) {
      auto range = api::ParseRange(p->spec.track->semver);
      std::optional<api::Version> best;
      for (const auto& r : views)
        if (range.ok() && r.Usable() && range->Satisfies(r.parsed) && (!best || r.parsed > *best))
          best = r.parsed;
      if (best) want = best->ToString();
    }
    if (!want.empty()) {
      j["candidate"] = want;
      if (const pin::ReleaseView* r = internal::ReleaseFor(want, views)) {
        j["release"] = {{"name", r->name},
                        {"phase", r->phase.empty() ? "Pending" : r->phase},
                        {"revoked", r->revoked}};
      } else {
        j["release"] = nullptr;
      }
    }
    // Each gate on its own, judged now (the condition's countdown was written when the
    // controller last looked).
    kube::Json gates = kube::Json::array();
    if (p->spec.promotion && !want.empty()) {
      const std::vector<api::EnvironmentPin> others = w.Others(*p);
      for (const api::PromotionRequirement& req : p->spec.promotion->require_pinned_in) {
        api::EnvironmentPin one = *p;
        one.spec.promotion->require_pinned_in = {req};
        pin::GateResult g = pin::CheckGates(one, want, others, ctx.now);
        kube::Json gj = {{"environment", req.environment},
                         {"forAtLeast", FormatDuration(req.ForAtLeastOrDefault())},
                         {"open", g.open}};
        if (!g.open) {
          gj["message"] = g.message;
          if (g.opens_at) {
            gj["opensAt"] = api::FormatTime(*g.opens_at);
            gj["leftSeconds"] = std::max<int64_t>(
                0, std::chrono::duration_cast<std::chrono::seconds>(*g.opens_at - ctx.now).count());
          }
        }
        gates.push_back(std::move(gj));
      }
    }
    j["gates"] = gates;
    out.push_back(std::move(j));
  }
  if (ctx.output != OutputFormat::kTable) {
    PrintStructured(ctx, out);
    return 0;
  }
  bool first = true;
  for (const kube::Json& j : out) {
    if (!first) ctx.out << "\n";
    first = false;
    const bool ok = j["ready"].get<bool>();
    const std::string version = j["version"].is_string() ? j["version"].get<std::string>() : "";
    ctx.out << Paint(j["environment"].get<std::string>() + " / " + j["image"].get<std::string>(),
                     Colour::kBold, ctx.colour)
            << " (EnvironmentPin " << j["pin"].get<std::string>() << ")\n";
    ctx.out << "  runs:    " << (version.empty() ? "nothing yet" : version)
            << (j["revoked"].get<bool>() ? Paint(" (REVOKED)", Colour::kRed, ctx.colour) : "")
            << "\n";
    if (j.contains("wants")) ctx.out << "  wants:   " << j["wants"].get<std::string>() << "\n";
    const std::string reason = j["reason"].get<std::string>();
    ctx.out << "  Ready:   "
            << Paint(ok ? "True" : "False", ok ? Colour::kGreen : Colour::kRed, ctx.colour)
            << (reason.empty() ? "" : ", " + reason)
            << (j["since"].get<std::string>().empty() ? ""
                                                      : " since " + j["since"].get<std::string>())
            << "\n";
    if (!j["message"].get<std::string>().empty())
      ctx.out << "  message: " << j["message"].get<std::string>() << "\n";
    if (j.value("stale", false))
      ctx.out << "  note:    the controller has not yet reconciled the latest spec\n";
    if (j.contains("release") && !ok) {
      if (j["release"].is_null()) {
        ctx.out << "  release: no ImageRelease has version " << j["candidate"].get<std::string>()
                << "\n";
      } else {
        ctx.out << "  release: " << j["release"]["name"].get<std::string>() << " is "
                << j["release"]["phase"].get<std::string>()
                << (j["release"]["revoked"].get<bool>() ? " and revoked" : "") << "\n";
      }
    }
    for (const kube::Json& g : j["gates"]) {
      ctx.out << "  gate:    pinned in " << g["environment"].get<std::string>() << " for at least "
              << g["forAtLeast"].get<std::string>() << " for " << j["candidate"].get<std::string>()
              << ": ";
      if (g["open"].get<bool>()) {
        ctx.out << Paint("open", Colour::kGreen, ctx.colour) << "\n";
        continue;
      }
      ctx.out << Paint("closed", Colour::kYellow, ctx.colour);
      if (g.contains("leftSeconds"))
        ctx.out << ", opens at " << g["opensAt"].get<std::string>() << " ("
                << Human(std::chrono::seconds(g["leftSeconds"].get<int64_t>())) << " left)";
      else
        ctx.out << ", no opening time yet";
      ctx.out << "\n           " << g["message"].get<std::string>() << "\n";
    }
    if (j.contains("behindBy") && j["behindBy"].get<int64_t>() > 0)
      ctx.out << "  behind:  " << j["behindBy"].get<int64_t>() << " newer Released version(s)"
              << (j.contains("latestVersion")
                      ? ", the newest " + j["latestVersion"].get<std::string>()
                      : "")
              << "\n";
  }
  return 0;
}

int RunDiff(Context& ctx, const DiffArgs& args) {
  auto world = LoadWorld(ctx.client, ctx.ns);
  if (!world.ok()) return Fail(ctx, world.status().ToString());
  const World& w = *world;
  auto a_pins = w.PinsOf(ctx.ns, args.env_a, args.image);
  auto b_pins = w.PinsOf(ctx.ns, args.env_b, args.image);
  const std::string image_note = args.image.empty() ? "" : " and image " + args.image;
  if (a_pins.empty())
    return Fail(ctx, "no EnvironmentPin for environment " + args.env_a + image_note +
                         " in namespace " + ctx.ns);
  if (b_pins.empty())
    return Fail(ctx, "no EnvironmentPin for environment " + args.env_b + image_note +
                         " in namespace " + ctx.ns);
  std::map<std::string, std::pair<const api::EnvironmentPin*, const api::EnvironmentPin*>> images;
  for (auto* p : a_pins)
    if (!images[p->spec.image].first) images[p->spec.image].first = p;
  for (auto* p : b_pins)
    if (!images[p->spec.image].second) images[p->spec.image].second = p;

  kube::Json out = kube::Json::array();
  for (const auto& [image, pair] : images) {
    kube::Json j = {{"image", image}};
    const std::string va = pair.first ? ResolvedVersion(*pair.first) : "";
    const std::string vb = pair.second ? ResolvedVersion(*pair.second) : "";
    j["a"] = {{"environment", args.env_a}, {"version", va.empty() ? kube::Json() : kube::Json(va)}};
    j["b"] = {{"environment", args.env_b}, {"version", vb.empty() ? kube::Json() : kube::Json(vb)}};
    auto pa = api::ParseReleaseVersion(va), pb = api::ParseReleaseVersion(vb);
    if (!pa.ok() || !pb.ok()) {
      j["direction"] = "unknown";
      j["changes"] = kube::Json::array();
    } else {
      const bool forward = *pb > *pa;
      j["direction"] = *pa == *pb ? "same" : (forward ? "forward" : "backward");
      std::vector<api::ChangeRecord> changes;
      if (!(*pa == *pb)) changes = pin::ChangesBetween(va, vb, w.Views(ctx.ns, image));
      j["changes"] = internal::ChangesJson(changes, forward);
      if (!(*pa == *pb)) {
        auto release_of = [](const api::EnvironmentPin& p) {
          return p.status->resolved->release.value_or("");
        };
        j["inventory"] = InventoryDiffJson(ctx.client, w, ctx.ns, release_of(*pair.first),
                                           release_of(*pair.second));
      }
    }
    out.push_back(std::move(j));
  }
  if (ctx.output != OutputFormat::kTable) {
    PrintStructured(ctx, out);
    return 0;
  }
  bool first = true;
  for (const kube::Json& j : out) {
    if (!first) ctx.out << "\n";
    first = false;
    auto ver = [](const kube::Json& side) {
      return side["version"].is_string() ? side["version"].get<std::string>()
                                         : std::string("(no resolution)");
    };
    const std::string image = j["image"].get<std::string>();
    const std::string dir = j["direction"].get<std::string>();
    ctx.out << Paint(image, Colour::kBold, ctx.colour) << ": " << args.env_a << " " << ver(j["a"])
            << " -> " << args.env_b << " " << ver(j["b"]);
    if (dir == "same") {
      ctx.out << " (same version)\n";
      continue;
    }
    if (dir == "unknown") {
      const bool missing_a = !images.at(image).first, missing_b = !images.at(image).second;
      ctx.out << " ("
              << (missing_a   ? args.env_a + " has no pin of " + image
                  : missing_b ? args.env_b + " has no pin of " + image
                              : "a side has no resolution")
              << ")\n";
      continue;
    }
    ctx.out << " (" << dir << ": "
            << (dir == "forward" ? args.env_b + " has these changes that " + args.env_a + " lacks"
                                 : args.env_b + " lacks these changes that " + args.env_a + " has")
            << ")\n";
    std::vector<api::ChangeRecord> changes;
    for (const kube::Json& c : j["changes"]) {
      api::ChangeRecord r;
      if (api::ReadJson(c, "", r).ok()) changes.push_back(std::move(r));
    }
    internal::PrintChanges(ctx, changes, dir == "forward", "  ");
    if (j.contains("inventory"))
      PrintInventoryDiff(ctx, j["inventory"], args.env_a, args.env_b, "  ");
  }
  return 0;
}

}  // namespace vmrelease::cli
