#include "controller/cli/internal.h"

#include <sstream>

#include "controller/api/json_fields.h"
#include "controller/api/meta.h"

namespace vmrelease::cli::internal {

int Fail(Context& ctx, const std::string& message) {
  ctx.err << Paint("error:", Colour::kRed, ctx.colour) << " " << message << "\n";
  return 1;
}

void PrintStructured(Context& ctx, const kube::Json& value) {
  if (ctx.output == OutputFormat::kYaml)
    ctx.out << JsonToYaml(value);
  else
    ctx.out << value.dump(2) << "\n";
}

const pin::ReleaseView* ReleaseFor(const std::string& version,
                                   const std::vector<pin::ReleaseView>& views) {
  const pin::ReleaseView* best = nullptr;
  for (const pin::ReleaseView& r : views) {
    if (r.version != version) continue;
    if (!best || (r.Usable() && !best->Usable()) ||
        (r.Usable() == best->Usable() && r.created < best->created))
      best = &r;
  }
  return best;
}

std::optional<std::string> WhyNotDeployable(const World& world, const std::string& ns,
                                            const std::string& version,
                                            const std::vector<pin::ReleaseView>& views,
                                            WallTime now) {
  const pin::ReleaseView* r = ReleaseFor(version, views);
  if (!r) return "no ImageRelease has version " + version + " (missing)";
  if (r->revoked) {
    std::string why = version + " (" + r->name + ") is revoked";
    if (const kube::Json* obj = world.Release(ns, r->name)) {
      const kube::Json* reason = kube::Find(*obj, {"spec", "revocation", "reason"});
      if (reason && reason->is_string()) why += ": " + reason->get<std::string>();
    }
    return why;
  }
  if (r->phase != "Released")
    return version + " (" + r->name + ") is not Released (phase " +
           (r->phase.empty() ? std::string("Pending") : r->phase) + ")";
  if (r->deleting) return version + " (" + r->name + ") is being deleted";
  if (const kube::Json* obj = world.Release(ns, r->name)) {
    const kube::Json* eol = kube::Find(*obj, {"status", "endOfLife"});
    if (eol && eol->is_string()) {
      auto t = api::ParseTime(eol->get<std::string>());
      if (t && *t < now)
        return version + " (" + r->name + ") is past its end of life (" + eol->get<std::string>() +
               ")";
    }
  }
  return std::nullopt;
}

kube::Json ChangesJson(const std::vector<api::ChangeRecord>& changes, bool forward) {
  kube::Json out = kube::Json::array();
  for (const api::ChangeRecord& c : changes) {
    kube::Json j = api::WriteJson(c);
    j["direction"] = forward ? "forward" : "backward";
    out.push_back(std::move(j));
  }
  return out;
}

void PrintChanges(Context& ctx, const std::vector<api::ChangeRecord>& changes, bool forward,
                  const std::string& indent) {
  if (changes.empty()) {
    ctx.out << indent << "(no changelog entries)\n";
    return;
  }
  Table t({"", "VERSION", "KIND", "SUMMARY", "REFERENCE"});
  for (const api::ChangeRecord& c : changes) {
    kube::Json j = api::WriteJson(c);
    t.Add({Cell(forward ? "+" : "-", forward ? Colour::kGreen : Colour::kRed), c.version,
           j.value("kind", ""), c.summary, c.reference.value_or("")});
  }
  std::ostringstream s;
  t.Print(s, ctx.colour);
  std::istringstream lines(s.str());
  for (std::string line; std::getline(lines, line);) ctx.out << indent << line << "\n";
}

std::string Qualified(const Context& ctx, const std::string& ns, const std::string& name) {
  return ctx.all_namespaces ? ns + "/" + name : name;
}

std::string Human(Duration d) {
  long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 0) s = 0;
  const long days = s / 86400, hours = s % 86400 / 3600, mins = s % 3600 / 60, secs = s % 60;
  if (days) return std::to_string(days) + "d" + std::to_string(hours) + "h";
  if (hours) return std::to_string(hours) + "h" + std::to_string(mins) + "m";
  if (mins) return std::to_string(mins) + "m" + std::to_string(secs) + "s";
  return std::to_string(secs) + "s";
}

}  // namespace vmrelease::cli::internal
