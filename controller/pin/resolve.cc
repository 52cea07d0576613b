#include "controller/pin/resolve.h"

#include <algorithm>

#include "controller/api/validation.h"
#include "controller/common/duration.h"

namespace vmrelease::pin {
namespace {

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string Str(const kube::Json& obj, std::initializer_list<std::string_view> path) {
  const kube::Json* v = kube::Find(obj, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

std::optional<std::string> OptStr(const kube::Json& obj,
                                  std::initializer_list<std::string_view> path) {
  const kube::Json* v = kube::Find(obj, path);
  if (v && v->is_string() && !v->get<std::string>().empty()) return v->get<std::string>();
  return std::nullopt;
}

std::optional<api::Version> Parse(const std::string& v) {
  auto p = api::ParseReleaseVersion(v);
  if (!p.ok()) return std::nullopt;
  return *p;
}

// Older first: creation time, then name (a deterministic tie-break).
bool Older(const std::string& created_a, const std::string& name_a, const std::string& created_b,
           const std::string& name_b) {
  auto a = api::ParseTime(created_a), b = api::ParseTime(created_b);
  if (a && b && *a != *b) return *a < *b;
  return name_a < name_b;
}

// The release object for `version`: the one furthest along (Released beats the
// rest), then the oldest (a younger duplicate never wins).
const ReleaseView* ReleaseFor(const std::string& version,
                              const std::vector<ReleaseView>& releases) {
  auto rank = [](const ReleaseView& r) {
    if (r.Usable()) return 0;
    if (r.Released() || r.revoked) return 1;
    if (r.phase == "Failed") return 3;
    return 2;
  };
  const ReleaseView* best = nullptr;
  for (const ReleaseView& r : releases) {
    if (r.version != version) continue;
    if (!best || rank(r) < rank(*best) ||
        (rank(r) == rank(*best) && Older(r.created, r.name, best->created, best->name)))
      best = &r;
  }
  return best;
}

bool InHistory(const api::EnvironmentPinStatus* status, const std::string& version) {
  if (!status) return false;
  for (const api::PinHistoryEntry& h : status->history) {
    if (h.version == version) return true;
  }
  return false;
}

std::string WhyNotUsable(const ReleaseView* r, const std::string& version, std::string* reason) {
  if (!r) {
    *reason = api::kReasonReleaseNotFound;
    return "no ImageRelease has version " + version;
  }
  if (r->revoked) {
    *reason = api::kReasonReleaseRevoked;
    return version + " (" + r->name + ") is revoked";
  }
  if (r->phase == "Failed") {
    *reason = api::kReasonReleaseFailed;
    return version + " (" + r->name + ") failed in its pipeline";
  }
  if (r->deleting) {
    *reason = api::kReasonReleaseNotFound;
    return version + " (" + r->name + ") is being deleted";
  }
  *reason = api::kReasonReleaseNotReady;
  return version + " (" + r->name + ") is not Released yet (phase " +
         (r->phase.empty() ? "Pending" : r->phase) + ")";
}

// The other pin of `environment` that counts (the oldest, if several).
const api::EnvironmentPin* PinOf(const std::string& environment,
                                 const std::vector<api::EnvironmentPin>& others) {
  const api::EnvironmentPin* best = nullptr;
  for (const api::EnvironmentPin& p : others) {
    if (p.spec.environment != environment) continue;
    if (!best || Older(p.metadata.creation_timestamp.value_or(""), p.metadata.name,
                       best->metadata.creation_timestamp.value_or(""), best->metadata.name))
      best = &p;
  }
  return best;
}

// " (7m0s left)": how long until a gate opens, as of `now`.
std::string Left(const GateResult& g, WallTime now) {
  if (!g.opens_at) return "";
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(*g.opens_at - now);
  return " (" + FormatDuration(std::max<Duration>(left, Duration::zero())) + " left)";
}

}  // namespace

std::optional<ReleaseView> ViewOfRelease(const kube::Json& obj) {
  ReleaseView v;
  v.version = Str(obj, {"spec", "version"});
  auto parsed = Parse(v.version);
  if (!parsed) return std::nullopt;
  v.parsed = *parsed;
  v.name = kube::Name(obj);
  v.image = Str(obj, {"spec", "image"});
  v.phase = Str(obj, {"status", "phase"});
  const kube::Json* revocation = kube::Find(obj, {"spec", "revocation"});
  v.revoked = (revocation && revocation->is_object()) || v.phase == "Revoked";
  v.deleting = kube::IsDeleting(obj);
  v.created = Str(obj, {"metadata", "creationTimestamp"});
  if (const kube::Json* log = kube::Find(obj, {"spec", "changelog"}); log && log->is_array()) {
    // Entries that do not parse are left out rather than failing the pin.
    for (size_t i = 0; i < log->size(); ++i) {
      api::ChangelogEntry e;
      if (api::ReadJson((*log)[i], "", e).ok()) v.changelog.push_back(std::move(e));
    }
  }
  v.gallery_image_version_id = OptStr(obj, {"status", "artifact", "galleryImageVersionId"});
  v.vhd_uri = OptStr(obj, {"status", "publish", "blobUri"});
  if (!v.vhd_uri) v.vhd_uri = OptStr(obj, {"status", "artifact", "vhdUri"});
  v.sha256 = OptStr(obj, {"status", "artifact", "sha256"});
  return v;
}

std::optional<std::string> DuplicateOf(const api::EnvironmentPin& pin,
                                       const std::vector<api::EnvironmentPin>& others) {
  for (const api::EnvironmentPin& o : others) {
    if (o.metadata.name == pin.metadata.name || o.spec.environment != pin.spec.environment ||
        o.spec.image != pin.spec.image)
      continue;
    if (Older(o.metadata.creation_timestamp.value_or(""), o.metadata.name,
              pin.metadata.creation_timestamp.value_or(""), pin.metadata.name))
      return o.metadata.name;
  }
  return std::nullopt;
}

GateResult CheckGates(const api::EnvironmentPin& pin, const std::string& version,
                      const std::vector<api::EnvironmentPin>& others, WallTime now) {
  GateResult g;
  if (!pin.spec.promotion) return g;
  std::vector<std::string> stable;
  bool all_known = true;
  WallTime latest{};
  for (const api::PromotionRequirement& req : pin.spec.promotion->require_pinned_in) {
    const Duration need = req.ForAtLeastOrDefault();
    const api::EnvironmentPin* other = PinOf(req.environment, others);
    if (!other) {
      stable.push_back("no EnvironmentPin of " + pin.spec.image + " for environment " +
                       req.environment);
      all_known = false;
      continue;
    }
    const api::EnvironmentPinStatus* st = other->status ? &*other->status : nullptr;
    const bool runs_now = st && st->resolved && st->resolved->version == version;
    std::optional<WallTime> since;
    if (runs_now && st->resolved->since) since = api::ParseTime(*st->resolved->since);
    if (runs_now && need == Duration::zero()) continue;
    // Any earlier continuous period long enough (the history, current entry aside).
    bool past_ok = false;
    if (st && need > Duration::zero()) {
      for (const api::PinHistoryEntry& h : st->history) {
        if (h.version != version || !h.to) continue;
        auto from = api::ParseTime(h.from), to = api::ParseTime(*h.to);
        if (from && to && *to - *from >= need) past_ok = true;
      }
    }
    if (past_ok) continue;
    if (runs_now && since && now - *since >= need) continue;
    if (runs_now && since) {
      const WallTime opens = *since + need;
      stable.push_back(req.environment + " must run " + version + " for " + FormatDuration(need) +
                       " (it has since " + api::FormatTime(*since) + ", so this gate opens at " +
                       api::FormatTime(opens) + ")");
      latest = std::max(latest, opens);
      continue;
    }
    std::string s = req.environment + " does not run " + version;
    if (st && st->resolved && st->resolved->version)
      s += " (it runs " + *st->resolved->version + ")";
    else
      s += " (it has no resolution)";
    if (need > Duration::zero()) s += "; it must run it for " + FormatDuration(need) + " first";
    stable.push_back(s);
    all_known = false;
  }
  if (stable.empty()) return g;
  g.open = false;
  g.message = "promotion to " + version + " waits: " + Join(stable, "; ");
  if (all_known) g.opens_at = latest;
  return g;
}

std::vector<api::ChangeRecord> ChangesBetween(const std::string& from, const std::string& to,
                                              const std::vector<ReleaseView>& releases) {
  std::vector<api::ChangeRecord> out;
  const std::optional<api::Version> a = from.empty() ? std::nullopt : Parse(from);
  const std::optional<api::Version> b = Parse(to);
  if (!b) return out;
  // (low, high]: forward it is (from, to], backward (to, from] — what is undone.
  std::optional<api::Version> low = a, high = b;
  if (a && *b < *a) {
    low = b;
    high = a;
  }
  std::vector<const ReleaseView*> in;
  for (const ReleaseView& r : releases) {
    if (r.phase == "Failed") continue;  // never shipped: its entries come again later
    const bool above = low ? r.parsed > *low : r.parsed == *high;
    if (!above || r.parsed > *high) continue;
    if (ReleaseFor(r.version, releases) != &r) continue;  // one object per version
    in.push_back(&r);
  }
  std::sort(in.begin(), in.end(),
            [](const ReleaseView* x, const ReleaseView* y) { return x->parsed > y->parsed; });
  for (const ReleaseView* r : in) {
    for (const api::ChangelogEntry& e : r->changelog) {
      if (out.size() >= 500) return out;  // the CRD's maxItems
      out.push_back({.version = r->version,
                     .kind = e.kind.value_or(api::ChangeKind::kOther),
                     .summary = e.summary,
                     .reference = e.reference});
    }
  }
  return out;
}

void Move(api::EnvironmentPinStatus& status, const ReleaseView& target, const std::string& reason,
          const std::vector<ReleaseView>& releases, WallTime now) {
  const std::string at = api::FormatTime(now);
  const std::string previous =
      status.resolved && status.resolved->version ? *status.resolved->version : "";
  if (!status.history.empty() && !status.history.front().to) status.history.front().to = at;
  status.history.insert(
      status.history.begin(),
      api::PinHistoryEntry{
          .version = target.version, .release = target.name, .from = at, .reason = reason});
  if (status.history.size() > api::kMaxPinHistory) status.history.resize(api::kMaxPinHistory);
  status.resolved =
      api::ResolvedRelease{.version = target.version,
                           .release = target.name,
                           .gallery_image_version_id = target.gallery_image_version_id,
                           .vhd_uri = target.vhd_uri,
                           .sha256 = target.sha256,
                           .since = at};
  status.changes = ChangesBetween(previous, target.version, releases);
}

Decision Resolve(const api::EnvironmentPin& pin, const std::vector<ReleaseView>& releases,
                 const std::vector<api::EnvironmentPin>& others, WallTime now) {
  Decision d;
  const api::EnvironmentPinStatus* status = pin.status ? &*pin.status : nullptr;
  const std::string env = pin.spec.environment;

  // The current resolution (kept whatever happens below unless the pin moves).
  std::optional<std::string> cur_version;
  if (status && status->resolved && status->resolved->version)
    cur_version = *status->resolved->version;
  const ReleaseView* cur = nullptr;
  if (cur_version) {
    for (const ReleaseView& r : releases) {
      const bool by_name = status->resolved->release && r.name == *status->resolved->release;
      if (by_name || (!status->resolved->release && r.version == *cur_version)) cur = &r;
    }
  }
  const std::optional<api::Version> cur_parsed = cur_version ? Parse(*cur_version) : std::nullopt;
  if (cur) {
    d.target = *cur;
    d.revoked = cur->revoked;
  } else if (cur_version && status->resolved->release) {
    // The release is gone from under the pin: keep what it resolved to.
    ReleaseView gone;
    gone.name = *status->resolved->release;
    gone.version = *cur_version;
    if (cur_parsed) gone.parsed = *cur_parsed;
    d.target = gone;
  }

  // What is newer, for people (status.behindBy, status.latestVersion).
  std::optional<api::Version> latest;
  int64_t newer = 0;
  for (const ReleaseView& r : releases) {
    if (!r.Usable()) continue;
    if (!latest || r.parsed > *latest) {
      latest = r.parsed;
      d.latest_version = r.version;
    }
    if (cur_parsed && r.parsed > *cur_parsed) ++newer;
  }
  if (cur_version) d.behind_by = newer;

  // The spec: what the API server cannot check, and one pin per environment.
  if (api::FieldErrors errs = api::Validate(pin); !errs.empty()) {
    std::vector<std::string> msgs;
    for (const api::FieldError& e : errs) msgs.push_back(e.ToString());
    d.stalled = true;
    d.reason = reason::kInvalidSpec;
    d.message = d.stable_message = Join(msgs, "; ");
    return d;
  }
  if (auto older = DuplicateOf(pin, others)) {
    d.stalled = true;
    d.reason = reason::kDuplicatePin;
    d.message = d.stable_message = "EnvironmentPin " + *older + " already pins environment " + env +
                                   " to image " + pin.spec.image + "; delete one of them";
    return d;
  }

  auto ready = [&](const ReleaseView& r) {
    d.ready = true;
    d.reason = reason::kResolved;
    d.message = d.stable_message =
        env + " runs " + pin.spec.image + " " + r.version + " (" + r.name + ")";
  };
  // The message is `message`, what the pin keeps, then `tail` (the part that
  // changes with time and is not compared).
  auto not_ready = [&](std::string why, std::string message, std::string tail = "") {
    d.ready = false;
    d.reason = std::move(why);
    d.stable_message = std::move(message);
    if (d.target) d.stable_message += "; it keeps " + d.target->version;
    d.message = d.stable_message + tail;
  };
  auto move = [&](const ReleaseView& r, const std::string& why) {
    d.target = r;
    d.move_reason = why;
    d.revoked = false;
    int64_t n = 0;
    for (const ReleaseView& o : releases) n += o.Usable() && o.parsed > r.parsed;
    d.behind_by = n;
  };
  // A release counts as usable for the pin that already resolves to it even while
  // it is being deleted (the pin is what holds the deletion).
  auto usable = [&](const ReleaseView& r) {
    return r.Usable() || (cur && &r == cur && r.Released() && r.deleting);
  };

  if (pin.spec.version) {
    const std::string& want = *pin.spec.version;
    const ReleaseView* r = ReleaseFor(want, releases);
    if (cur && cur_version == want && cur->revoked) {
      not_ready(api::kReasonReleaseRevoked,
                env + " runs " + want + " (" + cur->name +
                    "), which is revoked; move the pin to another version");
      return d;
    }
    if (cur && cur_version == want && usable(*cur)) {
      ready(*cur);
      return d;
    }
    if (!cur && cur_version == want && d.target) {
      not_ready(api::kReasonReleaseNotFound, "the ImageRelease " + d.target->name + " of " + want +
                                                 " that " + env + " runs no longer exists");
      return d;
    }
    if (!r || !usable(*r)) {
      std::string why;
      std::string msg = WhyNotUsable(r, want, &why);
      not_ready(why, msg);
      return d;
    }
    const bool rollback = InHistory(status, want);
    if (!rollback) {
      GateResult g = CheckGates(pin, want, others, now);
      if (!g.open) {
        not_ready(api::kReasonPromotionBlocked, g.message, Left(g, now));
        if (g.opens_at) d.requeue_after = std::max<Duration>(*g.opens_at - now, Duration::zero());
        return d;
      }
    }
    const bool back = rollback && cur_parsed && r->parsed < *cur_parsed;
    move(*r, back ? reason::kRolledBack : reason::kPinned);
    ready(*r);
    return d;
  }

  // track: the newest usable version in the range that passes the gates.
  auto range = api::ParseRange(pin.spec.track->semver);  // Validate() parsed it already
  if (!range.ok()) return d;
  const bool cur_in_range = cur_parsed && range->Satisfies(*cur_parsed);
  std::vector<const ReleaseView*> candidates;
  for (const ReleaseView& r : releases) {
    if (usable(r) && range->Satisfies(r.parsed) && ReleaseFor(r.version, releases) == &r)
      candidates.push_back(&r);
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const ReleaseView* a, const ReleaseView* b) { return a->parsed > b->parsed; });
  std::optional<GateResult> blocked;  // the newest candidate held by a gate
  const ReleaseView* chosen = nullptr;
  for (const ReleaseView* c : candidates) {
    if (cur && c == cur) {
      chosen = c;
      break;
    }
    // Never back to an older version on its own while the current one is in range.
    if (cur_in_range && c->parsed < *cur_parsed) break;
    if (InHistory(status, c->version)) {
      chosen = c;
      break;
    }
    GateResult g = CheckGates(pin, c->version, others, now);
    if (g.open) {
      chosen = c;
      break;
    }
    if (!blocked) blocked = std::move(g);
  }
  if (blocked && blocked->opens_at)
    d.requeue_after = std::max<Duration>(*blocked->opens_at - now, Duration::zero());
  if (cur && cur->revoked && (!chosen || chosen == cur)) {
    not_ready(api::kReasonReleaseRevoked,
              env + " runs " + cur->version + " (" + cur->name +
                  "), which is revoked; it does not move on its own: point the pin elsewhere");
    return d;
  }
  if (chosen) {
    if (!(cur && chosen == cur)) {
      const bool back = cur_parsed && chosen->parsed < *cur_parsed;
      move(*chosen,
           back && InHistory(status, chosen->version) ? reason::kRolledBack : reason::kTracked);
    }
    ready(*chosen);
    if (blocked) {
      d.stable_message += "; " + blocked->message;
      d.message = d.stable_message + Left(*blocked, now);
    }
    return d;
  }
  if (blocked) {
    not_ready(api::kReasonPromotionBlocked, blocked->message, Left(*blocked, now));
    return d;
  }
  if (cur_version && !cur && cur_in_range) {
    not_ready(api::kReasonReleaseNotFound, "the ImageRelease " + d.target->name + " of " +
                                               *cur_version + " that " + env +
                                               " runs no longer exists");
    return d;
  }
  // Nothing in the range is usable: the best reason among the versions in range.
  std::string why = api::kReasonReleaseNotFound;
  std::string msg = "no ImageRelease of " + pin.spec.image + " in range " + pin.spec.track->semver;
  int best = 0;  // NotFound < Revoked < Failed < NotReady: the most hopeful one wins
  for (const ReleaseView& r : releases) {
    if (!range->Satisfies(r.parsed)) continue;
    std::string rw;
    std::string rm = WhyNotUsable(&r, r.version, &rw);
    const int rank = rw == api::kReasonReleaseNotReady  ? 4
                     : rw == api::kReasonReleaseFailed  ? 3
                     : rw == api::kReasonReleaseRevoked ? 2
                                                        : 1;
    if (rank > best) {
      best = rank;
      why = rw;
      msg = "nothing in range " + pin.spec.track->semver + " is usable: " + rm;
    }
  }
  not_ready(why, msg);
  return d;
}

}  // namespace vmrelease::pin
