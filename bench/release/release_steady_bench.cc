// What the release controller costs, measured against the real binary, the local
// API server, Azurite and the fake ARM (tests/support/stack):
//
//   1. Steady state: N (default 1,000) Released releases. After they settle, the
//      status writes (and Events) per minute over two --sync-period resyncs, in
//      which every release is reconciled again: the goal is 0. Also the
//      controller's CPU time and RSS over that window.
//   2. Reaction time: releases applied at R per second (default 100/s, 200 of
//      them); the time from the create's answer to the first status write the
//      controller makes for each (p50, p99, max).
//
// The N releases are clones of one release the pipeline really built, checked and
// published (its status copied, its name, uid-derived fields and version made
// unique): building 1,000 images would measure the build, not the controller.
//
//   build/bin/release_steady_bench [--releases 1000] [--sync-period 30s] [--rate 100] [--burst 200]
//                                  [--local-poll-interval 2s]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/image_release.h"
#include "controller/common/duration.h"
#include "controller/http/client.h"
#include "tests/support/stack/pipeline_stack.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const kube::ResourceType kReleases{api::kGroup, api::kGroupVersion, api::kImageReleasePlural,
                                   api::kImageReleaseKind, true};

struct Args {
  int releases = 1000;
  Duration sync_period = seconds(30);
  int rate = 100;
  int burst = 200;
  std::string local_poll = "2s";  // --local-poll-interval of the controller
};

// CPU seconds (user + system) and RSS / peak RSS (KiB) of a process, from /proc.
struct ProcUsage {
  double cpu_seconds = 0;
  long rss_kib = 0, peak_kib = 0;
};
ProcUsage Usage(pid_t pid) {
  ProcUsage u;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(text.substr(close + 2));
    std::vector<std::string> f;
    std::string x;
    while (in >> x) f.push_back(x);
    // Fields after the command: state(3) ... utime(14) stime(15) → indexes 11, 12 here.
    if (f.size() > 12) u.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / sysconf(_SC_CLK_TCK);
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) u.peak_kib = std::atol(line.c_str() + 6);
  }
  return u;
}

// Sum of a counter over all its series whose labels contain `label` in /metrics.
double Metric(const std::string& url, const std::string& name, const std::string& label) {
  http::Client client;
  auto r = client.Send({.url = url + "/metrics"});
  if (!r.ok() || !r->ok()) return -1;
  double sum = 0;
  std::istringstream in(r->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0 || line.find(label) == std::string::npos) continue;
    sum += std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return sum;
}

// Counts every change the server streams for ImageReleases and Events, and when
// each release first got a status.
class Observer {
 public:
  Observer(kube::KubeClient& client, const std::string& rv)
      : client_(client), thread_([this, rv] { Loop(rv); }) {}
  ~Observer() {
    stop_ = true;
    {
      std::lock_guard g(mu_);
      if (stream_) stream_->Cancel();
    }
    thread_.join();
  }
  int64_t modified() const { return modified_.load(); }
  Clock::time_point last_change() {
    std::lock_guard g(mu_);
    return last_change_;
  }
  std::map<std::string, Clock::time_point> first_status() {
    std::lock_guard g(mu_);
    return first_status_;
  }

 private:
  void Loop(std::string rv) {
    while (!stop_) {
      auto w = client_.Watch(kReleases, {.ns = "default", .resource_version = rv});
      if (!w.ok()) {
        std::this_thread::sleep_for(milliseconds(100));
        continue;
      }
      {
        std::lock_guard g(mu_);
        stream_ = std::move(*w);
      }
      while (!stop_) {
        auto e = stream_->Next();
        if (!e.ok() || !e->has_value()) break;
        const kube::WatchEvent& ev = **e;
        if (ev.type == kube::WatchEventType::kBookmark) {
          rv = kube::ResourceVersion(ev.object);
          continue;
        }
        rv = kube::ResourceVersion(ev.object);
        const auto now = Clock::now();
        std::lock_guard g(mu_);
        last_change_ = now;
        if (ev.type == kube::WatchEventType::kModified) ++modified_;
        const std::string name = kube::Name(ev.object);
        if (ev.object.contains("status") && !first_status_.count(name)) first_status_[name] = now;
      }
    }
  }
  kube::KubeClient& client_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> modified_{0};
  std::mutex mu_;
  std::unique_ptr<kube::WatchStream> stream_;
  Clock::time_point last_change_ = Clock::now();
  std::map<std::string, Clock::time_point> first_status_;
  std::thread thread_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string Version(int i) {
  return "2." + std::to_string(i / 1000) + "." + std::to_string(i % 1000);
}

int Main(const Args& a) {
  PipelineStack::Options o;
  o.arm.lro_polls = 1;
  if (const char* level = std::getenv("BENCH_CONTROLLER_LOG_LEVEL")) o.log_level = level;
  o.arm.retry_after_seconds = 1;
  o.controller_flags = {"--sync-period", FormatDuration(a.sync_period), "--workers", "2"};
  // The controller's default, not the test stack's 200 ms: 200 running builds polled
  // 5 times a second would measure the poll load, not the reaction to a new release.
  o.local_poll_interval = a.local_poll;
  auto started = PipelineStack::Start(std::move(o));
  if (!started.ok()) {
    std::fprintf(stderr, "stack: %s\n", started.status().ToString().c_str());
    return 1;
  }
  PipelineStack& s = **started;
  kube::KubeClient& client = s.client();

  // The seed: one release through the whole pipeline.
  std::printf("seed: building, checking and publishing one release...\n");
  if (auto c = s.Create(s.Release({.name = "seed", .image = "app", .version = "1.0.0"})); !c.ok()) {
    std::fprintf(stderr, "create: %s\n", c.status().ToString().c_str());
    return 1;
  }
  std::string why;
  Json seed = s.WaitForPhase("seed", "Released", seconds(120), &why);
  if (seed.empty()) {
    std::fprintf(stderr, "seed not Released: %s\n", why.c_str());
    return 1;
  }
  s.StopController(SIGTERM);

  // N clones, Released, written while no controller runs.
  std::printf("creating %d Released releases...\n", a.releases);
  const auto t_create = Clock::now();
  for (int i = 0; i < a.releases; ++i) {
    const std::string name = "bench-" + std::to_string(i);
    Json obj = s.Release({.name = name, .image = "app", .version = Version(i)});
    obj["metadata"]["finalizers"] = seed["metadata"]["finalizers"];
    auto created = s.Create(obj);
    if (!created.ok()) {
      std::fprintf(stderr, "create %s: %s\n", name.c_str(), created.status().ToString().c_str());
      return 1;
    }
    Json status = seed["status"];
    status["observedGeneration"] = (*created)["metadata"]["generation"];
    status.erase("previousVersion");
    Json with_status = *created;
    with_status["status"] = status;
    if (auto u = client.UpdateStatus(kReleases, with_status); !u.ok()) {
      std::fprintf(stderr, "status %s: %s\n", name.c_str(), u.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("  %d releases in %.1f s\n", a.releases,
              std::chrono::duration<double>(Clock::now() - t_create).count());

  auto list = client.List(kReleases, {.ns = "default", .limit = 1});
  if (!list.ok()) return 1;
  Observer observer(client, list->resource_version);

  // Start the controller; wait until it has reconciled everything and stopped writing.
  const auto t_start = Clock::now();
  if (Status st = s.StartController(); !st.ok()) {
    std::fprintf(stderr, "controller: %s\n", st.ToString().c_str());
    return 1;
  }
  std::string metrics;
  for (int i = 0; i < 100 && metrics.empty(); ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    metrics = s.controller()->metrics_url();  // "http://127.0.0.1:PORT"
  }
  const std::string label = "controller=\"imagerelease\"";
  auto last_progress = Clock::now();
  double reconciled = 0;
  while ((reconciled = Metric(metrics, "controller_runtime_reconcile_total", label)) <
             a.releases + 1 ||
         Clock::now() - observer.last_change() < seconds(5)) {
    if (Clock::now() - t_start > std::chrono::minutes(10)) {
      std::fprintf(stderr,
                   "the controller did not settle in 10 minutes: %.0f reconciles, %lld writes, "
                   "the last %.1f s ago\n",
                   reconciled, static_cast<long long>(observer.modified()),
                   std::chrono::duration<double>(Clock::now() - observer.last_change()).count());
      return 1;
    }
    if (Clock::now() - last_progress > seconds(15)) {
      last_progress = Clock::now();
      std::printf("  settling: %.0f reconciles, %lld writes so far\n", reconciled,
                  static_cast<long long>(observer.modified()));
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
  const double settle = std::chrono::duration<double>(observer.last_change() - t_start).count();
  std::printf("settled: %lld writes while taking over %d releases, last one %.1f s after start\n",
              static_cast<long long>(observer.modified()), a.releases + 1, settle);

  // Two resync periods of steady state.
  const pid_t pid = s.controller()->process().pid();
  const int64_t writes0 = observer.modified();
  const double reconciles0 = Metric(metrics, "controller_runtime_reconcile_total", label);
  const ProcUsage u0 = Usage(pid);
  const auto window = 2 * a.sync_period + seconds(2);
  std::this_thread::sleep_for(window);
  const ProcUsage u1 = Usage(pid);
  const int64_t writes = observer.modified() - writes0;
  const double reconciles =
      Metric(metrics, "controller_runtime_reconcile_total", label) - reconciles0;
  const double minutes = std::chrono::duration<double>(window).count() / 60.0;
  const double cpu = u1.cpu_seconds - u0.cpu_seconds;
  std::printf(
      "steady state over %.0f s (two %s resyncs): %.0f reconciles, %lld status writes = %.2f "
      "writes/min (goal 0); controller CPU %.2f s (%.1f%% of one core), RSS %ld KiB (peak %ld "
      "KiB)\n",
      minutes * 60, FormatDuration(a.sync_period).c_str(), reconciles,
      static_cast<long long>(writes), writes / minutes, cpu, 100.0 * cpu / (minutes * 60),
      u1.rss_kib, u1.peak_kib);

  // Reaction time at `rate` per second.
  std::printf("applying %d releases at %d/s...\n", a.burst, a.rate);
  const double burst_reconciles0 = Metric(metrics, "controller_runtime_reconcile_total", label);
  const ProcUsage b0 = Usage(pid);
  std::map<std::string, Clock::time_point> created_at;
  const auto period = std::chrono::microseconds(1000000 / a.rate);
  auto next = Clock::now();
  for (int i = 0; i < a.burst; ++i) {
    std::this_thread::sleep_until(next);
    next += period;
    const std::string name = "burst-" + std::to_string(i);
    ReleaseSpecOptions r{.name = name, .image = "app", .version = "3.0." + std::to_string(i)};
    r.build_env = {{"BUILD_SECONDS", "600"}};  // keep the machine for the controller
    if (auto c = s.Create(s.Release(r)); c.ok()) created_at[name] = Clock::now();
  }
  const auto deadline = Clock::now() + seconds(60);
  std::vector<double> latencies;
  while (Clock::now() < deadline) {
    auto first = observer.first_status();
    latencies.clear();
    for (const auto& [name, t] : created_at)
      if (auto it = first.find(name); it != first.end())
        latencies.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    if (latencies.size() == created_at.size()) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::printf(
      "apply -> first status write, %zu of %zu releases at %d/s: p50 %.1f ms, p99 %.1f ms, max "
      "%.1f ms\n",
      latencies.size(), created_at.size(), a.rate, Percentile(latencies, 0.5),
      Percentile(latencies, 0.99), Percentile(latencies, 1.0));
  std::printf("  until then: %.0f reconciles, controller CPU %.2f s\n",
              Metric(metrics, "controller_runtime_reconcile_total", label) - burst_reconciles0,
              Usage(pid).cpu_seconds - b0.cpu_seconds);
  if (const char* path = std::getenv("BENCH_CONTROLLER_LOG")) {
    std::ofstream(path) << s.ControllerLogs();
    std::ofstream t(std::string(path) + ".times");
    auto first = observer.first_status();
    // Wall-clock seconds, to line up with the controller's log timestamps.
    const double offset =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
        std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    auto wall = [&](Clock::time_point p) {
      return std::chrono::duration<double>(p.time_since_epoch()).count() + offset;
    };
    t.precision(15);
    for (const auto& [name, c] : created_at)
      t << name << " created " << wall(c) << " first_status "
        << (first.count(name) ? wall(first[name]) : 0.0) << "\n";
  }
  return writes == 0 && latencies.size() == created_at.size() ? 0 : 2;
}

}  // namespace
}  // namespace vmrelease::testing

int main(int argc, char** argv) {
  vmrelease::testing::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--releases") a.releases = std::atoi(v.c_str());
    if (k == "--rate") a.rate = std::max(1, std::atoi(v.c_str()));
    if (k == "--burst") a.burst = std::atoi(v.c_str());
    if (k == "--local-poll-interval") a.local_poll = v;
    if (k == "--sync-period") {
      auto d = vmrelease::ParseDuration(v);
      if (d.ok()) a.sync_period = *d;
    }
  }
  return vmrelease::testing::Main(a);
}
