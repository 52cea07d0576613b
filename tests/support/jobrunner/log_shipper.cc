#include "tests/support/jobrunner/log_shipper.h"

#include <fstream>
#include <vector>

#include "controller/common/log.h"
#include "controller/kube/errors.h"

namespace vmrelease::jobrunner {
namespace {

constexpr int64_t kChunk = 1 << 20;  // per request

// Up to `max` bytes of `path` from `offset`; empty at the end.
std::string ReadFrom(const std::string& path, int64_t offset, int64_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(offset);
  std::string out(static_cast<size_t>(max), '\0');
  in.read(out.data(), max);
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

}  // namespace

std::unique_ptr<AdminLogSink> AdminLogSink::Probe(kube::RestClient& client) {
  auto r = client.Request("GET", "/admin/faults", {}, "", "application/json",
                          kube::RestClient::Retry::kReads, "probe the local API server admin API");
  if (!r.ok()) {
    log::Info("jobrunner.logs",
              "the API server has no log upload endpoint (not the local API server): container "
              "output stays in the work dir",
              {{"error", r.status().message()}});
    return nullptr;
  }
  return std::unique_ptr<AdminLogSink>(new AdminLogSink(client));
}

Status AdminLogSink::Append(const LogTarget& t, int64_t offset, const std::string& data,
                            bool final) {
  kube::RestClient::Query q = {{"uid", t.uid},
                               {"container", t.container},
                               {"restart", std::to_string(t.attempt)},
                               {"offset", std::to_string(offset)}};
  if (final) q.emplace_back("final", "true");
  auto r = client_.Request("POST", "/admin/pods/" + t.ns + "/" + t.pod + "/log", q, data,
                           "application/octet-stream", kube::RestClient::Retry::kWrites,
                           "upload the log of pod " + t.ns + "/" + t.pod);
  return r.ok() ? Status::Ok() : r.status();
}

void LogShipper::Track(const LogTarget& target) {
  if (!sink_) return;
  std::lock_guard lock(mu_);
  auto it = tracked_.find(target.uid);
  if (it != tracked_.end() && it->second.target.attempt == target.attempt) return;  // already
  tracked_[target.uid] = Tracked{target, 0, false};
}

void LogShipper::Untrack(const std::string& uid) {
  std::lock_guard lock(mu_);
  tracked_.erase(uid);
}

Status LogShipper::ShipLocked(Tracked& t, bool final) {
  if (t.final) return Status::Ok();
  for (int rounds = 0; rounds < 1024; ++rounds) {
    std::string data = ReadFrom(t.target.path, t.shipped, kChunk);
    const bool last = static_cast<int64_t>(data.size()) < kChunk;
    if (data.empty() && !(final && last)) return Status::Ok();
    Status s = sink_->Append(t.target, t.shipped, data, final && last);
    if (kube::IsConflict(s)) {  // the server lost bytes: start over, it skips what it has
      t.shipped = 0;
      continue;
    }
    if (!s.ok()) return s;
    t.shipped += static_cast<int64_t>(data.size());
    if (last) {
      t.final = final;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Status LogShipper::Flush(const std::string& uid, bool final) {
  if (!sink_) return Status::Ok();
  std::lock_guard lock(mu_);
  auto it = tracked_.find(uid);
  if (it == tracked_.end()) return Status::Ok();
  Status s = ShipLocked(it->second, final);
  if (kube::IsNotFound(s)) {
    tracked_.erase(it);
    return Status::Ok();
  }
  return s;
}

void LogShipper::ShipAll() {
  if (!sink_) return;
  std::lock_guard lock(mu_);
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    Status s = ShipLocked(it->second, false);
    if (kube::IsNotFound(s)) {
      it = tracked_.erase(it);
      continue;
    }
    if (!s.ok())
      log::Warn(
          "jobrunner.logs", "log upload failed; retrying later",
          {{"pod", it->second.target.ns + "/" + it->second.target.pod}, {"error", s.message()}});
    ++it;
  }
}

}  // namespace vmrelease::jobrunner
