// LogShipper: copies container output from the work dir to where `kubectl
// logs` can read it. On a real cluster the kubelet serves pods/log itself; the
// local API server has no kubelet, so it accepts uploads on its admin API
// (POST /admin/pods/{ns}/{name}/log, see tests/support/apiserver/pod_logs.h).
//
//   auto sink = AdminLogSink::Probe(rest_client);   // null when not the local API server
//   LogShipper shipper(sink.get());
//   shipper.Track({.ns = "default", .pod = "p", .uid = uid, .container = "c", .attempt = 0,
//                  .path = proc.log_path()});
//   shipper.ShipAll();                 // periodically: new bytes of every tracked log
//   shipper.Flush(uid, /*final=*/true);   // before the container is reported terminated
//
// Guarantees: uploads are by byte offset, so a retry never duplicates output
// (after a refused gap it restarts from 0 and the server skips what it has);
// a Pod the server no longer has stops being shipped. Against any other API
// server there is no sink and nothing is uploaded (the output stays in the work
// dir). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "controller/common/status.h"
#include "controller/kube/rest_client.h"

namespace vmrelease::jobrunner {

struct LogTarget {
  std::string ns;
  std::string pod;
  std::string uid;
  std::string container;
  int attempt = 0;   // the container's restartCount for this run
  std::string path;  // the output file
};

class LogSink {
 public:
  virtual ~LogSink() = default;
  // Uploads `data` starting at byte `offset`. Errors: IsNotFound (the Pod is
  // gone), IsConflict (a gap: the server holds fewer bytes than `offset`).
  virtual Status Append(const LogTarget& target, int64_t offset, const std::string& data,
                        bool final) = 0;
};

// The local API server's admin endpoint.
class AdminLogSink final : public LogSink {
 public:
  // A sink when `client`'s server answers the admin API (GET /admin/faults),
  // else null (a real cluster: its kubelets serve logs).
  static std::unique_ptr<AdminLogSink> Probe(kube::RestClient& client);
  Status Append(const LogTarget& target, int64_t offset, const std::string& data,
                bool final) override;

 private:
  explicit AdminLogSink(kube::RestClient& client) : client_(client) {}
  kube::RestClient& client_;
};

class LogShipper {
 public:
  explicit LogShipper(LogSink* sink) : sink_(sink) {}
  bool enabled() const { return sink_ != nullptr; }
  // Starts shipping a container run (replacing the Pod's previous run; a run
  // already tracked is left as it is).
  void Track(const LogTarget& target);
  void Untrack(const std::string& uid);
  // Ships what is new for one Pod; `final` marks the run as ended.
  Status Flush(const std::string& uid, bool final);
  // Ships what is new for every tracked Pod (errors are logged, not returned).
  void ShipAll();

 private:
  struct Tracked {
    LogTarget target;
    int64_t shipped = 0;
    bool final = false;
  };
  Status ShipLocked(Tracked& t, bool final);

  LogSink* sink_;
  std::mutex mu_;
  std::map<std::string, Tracked> tracked_;  // pod uid
};

}  // namespace vmrelease::jobrunner
