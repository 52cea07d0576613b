// Store initial-sync benchmark: 10,000 custom resources of about 2 KB each in
// the local API server; time and peak RSS of the runtime's informer reaching
// "list done + watch established + HasSynced", side by side with
// `kubectl get gadgets -A -o json` against the same server, as ratios.
//
//   build-release/bin/kube_store_sync_bench [--objects 10000] [--runs 3]
//
// Both sides run as fresh child processes measured the same way (wall time
// around spawn..exit, peak RSS as reported by /usr/bin/time -f %M), so process
// start-up is in both numbers. kubectl gets one warm-up run first (its discovery cache), and
// its output goes to /dev/null. Medians of --runs are reported.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/log.h"
#include "controller/kube/config.h"
#include "controller/kube/rest_client.h"
#include "controller/kube/watcher.h"
#include "tests/support/apiserver/fixture.h"

extern char** environ;

namespace vmrelease::bench {
namespace {

using kube::Json;

const kube::ResourceType kGadgets{"test.vmrelease.io", "v1", "gadgets", "Gadget", true};

struct Measured {
  double seconds = 0;
  double peak_rss_mb = 0;
  int exit_code = -1;
};

// Spawns argv with `env` added, stdout to `stdout_path`, and measures it.
//
// Peak RSS comes from /usr/bin/time (its own wait4 on the child), not from our
// wait4: posix_spawn runs the child in this (large) process's address space
// until exec, and Linux carries that address space's high-water mark into the
// child's ru_maxrss, which would report this process's size instead.
Measured Spawn(const std::vector<std::string>& command, const std::vector<std::string>& env,
               const std::string& stdout_path, const std::string& rss_path) {
  std::vector<std::string> argv = {"/usr/bin/time", "-f", "%M", "-o", rss_path};
  argv.insert(argv.end(), command.begin(), command.end());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& e : env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Measured m;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data()) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return m;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // The last line of the -o file is %M, the child's peak RSS in KiB (earlier
  // lines, if any, say the command exited non-zero).
  std::istringstream rss(testing::ReadFile(rss_path));
  std::string line, last;
  while (std::getline(rss, line)) {
    if (!line.empty()) last = line;
  }
  m.peak_rss_mb = std::atof(last.c_str()) / 1024.0;
  posix_spawn_file_actions_destroy(&fa);
  return m;
}

Measured Median(std::vector<Measured> runs) {
  Measured out;
  auto pick = [&](auto field) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(r.*field);
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  out.seconds = pick(&Measured::seconds);
  out.peak_rss_mb = pick(&Measured::peak_rss_mb);
  out.exit_code = 0;
  for (const auto& r : runs) out.exit_code = std::max(out.exit_code, r.exit_code);
  return out;
}

// About 2 KB of JSON per object: a release-like spec with a changelog.
Json MakeObject(int i) {
  Json changelog = Json::array();
  for (int c = 0; c < 8; ++c) {
    changelog.push_back({{"kind", c % 2 == 0 ? "Security" : "Configuration"},
                         {"summary", "change " + std::to_string(c) + " of object " +
                                         std::to_string(i) + std::string(60, 'c')},
                         {"reference", "KB50313" + std::to_string(c)}});
  }
  return {{"apiVersion", "test.vmrelease.io/v1"},
          {"kind", "Gadget"},
          {"metadata",
           {{"name", "gadget-" + std::to_string(i)},
            {"namespace", "ns-" + std::to_string(i % 10)},
            {"labels", {{"app", "bench"}, {"shard", std::to_string(i % 16)}}}}},
          {"spec",
           {{"image", "sql-server-baseline"},
            {"version", "1." + std::to_string(i / 100) + "." + std::to_string(i % 100)},
            {"changelog", changelog},
            {"description", std::string(550, 'd')}}}};
}

// Current resident set size (VmRSS) in MB.
double CurrentRssMb() {
  std::istringstream in(testing::ReadFile("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

int SyncOnly(const std::string& kubeconfig) {
  log::Init(log::Format::kJson, log::Level::kWarn);
  const auto start = std::chrono::steady_clock::now();
  auto cfg = kube::LoadKubeconfig({.path = kubeconfig});
  if (!cfg.ok()) return 2;
  auto client = kube::RestClient::FromConfig(*cfg);
  if (!client.ok()) return 2;
  kube::Informer informer(**client, {.type = kGadgets});
  informer.Start();
  if (!informer.store().WaitForSync(std::chrono::minutes(5))) return 3;
  // Synced means listed; also wait for the watch to be established.
  while (informer.stats().watches < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"objects\": %zu, \"seconds\": %.3f, \"rss_after_sync_mb\": %.1f}\n",
              informer.store().Size(), s, CurrentRssMb());
  std::fflush(stdout);
  informer.Stop();
  return 0;
}

std::string SelfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

int Run(int objects, int runs) {
  log::Init(log::Format::kText, log::Level::kWarn);
  const std::string self_dir = std::filesystem::path(SelfPath()).parent_path().string();
  setenv("VMRELEASE_BIN_DIR", self_dir.c_str(), 0);
  setenv("VMRELEASE_SOURCE_DIR", VMRELEASE_SOURCE_DIR_DEFAULT, 0);
  auto server = testing::LocalApiServer::Start(
      {.crds_dir = std::string(VMRELEASE_SOURCE_DIR_DEFAULT) + "/bench/kube/testdata"});
  if (!server.ok()) {
    std::fprintf(stderr, "starting the local API server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  testing::LocalApiServer& api = **server;
  for (int n = 0; n < 10; ++n) {
    api.Request("POST", "/api/v1/namespaces",
                Json({{"apiVersion", "v1"},
                      {"kind", "Namespace"},
                      {"metadata", {{"name", "ns-" + std::to_string(n)}}}})
                    .dump())
        .status()
        .IgnoreError();
  }

  std::printf("creating %d objects of ~%zu bytes...\n", objects, MakeObject(0).dump().size());
  std::fflush(stdout);
  const auto create_start = std::chrono::steady_clock::now();
  std::atomic<int> next{0}, failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&] {
      auto cfg = kube::LoadKubeconfig({.path = api.kubeconfig()});
      auto client = kube::RestClient::FromConfig(*cfg);
      for (int i = next++; i < objects; i = next++) {
        if (!(*client)->Create(kGadgets, MakeObject(i)).ok()) ++failed;
      }
    });
  }
  for (auto& t : writers) t.join();
  if (failed > 0) {
    std::fprintf(stderr, "%d creates failed\n", failed.load());
    return 1;
  }
  std::printf(
      "created in %.1fs\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - create_start).count());

  testing::TempDir dir;
  std::vector<std::string> kubectl_env;
  for (const auto& [k, v] : api.KubectlEnv()) kubectl_env.push_back(k + "=" + v);
  const std::vector<std::string> kubectl = {
      testing::ToolPath("kubectl"), "get", "gadgets", "-A", "-o", "json"};
  // Warm-up (discovery cache) and a check that kubectl really returns every object.
  Measured warm = Spawn(kubectl, kubectl_env, dir.Join("kubectl.json"), dir.Join("rss"));
  const std::string listed = testing::ReadFile(dir.Join("kubectl.json"));
  size_t kubectl_items = 0, stored_bytes = 0;
  try {
    const Json items = Json::parse(listed)["items"];
    kubectl_items = items.size();
    for (const Json& item : items) stored_bytes += item.dump().size();
  } catch (const Json::exception&) {
  }
  if (warm.exit_code != 0 || kubectl_items != static_cast<size_t>(objects)) {
    std::fprintf(stderr, "kubectl warm-up failed (exit %d, %zu items)\n", warm.exit_code,
                 kubectl_items);
    return 1;
  }

  std::vector<Measured> ours, theirs;
  std::vector<double> rss_after_sync;
  for (int r = 0; r < runs; ++r) {
    ours.push_back(Spawn({SelfPath(), "--sync-only", api.kubeconfig()}, {}, dir.Join("sync.json"),
                         dir.Join("rss")));
    const std::string result = testing::ReadFile(dir.Join("sync.json"));
    Json j;
    try {
      j = Json::parse(result);
    } catch (const Json::exception&) {
    }
    rss_after_sync.push_back(j.value("rss_after_sync_mb", 0.0));
    if (ours.back().exit_code != 0 || j.value("objects", 0) != objects) {
      std::fprintf(stderr, "store sync run failed (exit %d): %s\n", ours.back().exit_code,
                   result.c_str());
      return 1;
    }
    theirs.push_back(Spawn(kubectl, kubectl_env, "/dev/null", dir.Join("rss")));
    if (theirs.back().exit_code != 0) {
      std::fprintf(stderr, "kubectl run failed (exit %d)\n", theirs.back().exit_code);
      return 1;
    }
  }
  const Measured o = Median(ours), k = Median(theirs);
  std::printf(
      "\n%d objects, %zu bytes each on average as stored (compact JSON), median of %d "
      "runs (each a fresh process)\n",
      objects, stored_bytes / kubectl_items, runs);
  std::printf("%-48s %10s %14s\n", "", "time (s)", "peak RSS (MB)");
  std::printf("%-48s %10.3f %14.1f\n", "store initial sync (list + watch + HasSynced)", o.seconds,
              o.peak_rss_mb);
  std::printf("%-48s %10.3f %14.1f\n", "kubectl get gadgets -A -o json", k.seconds, k.peak_rss_mb);
  std::printf("ratio store/kubectl: time %.2f, peak RSS %.2f\n", o.seconds / k.seconds,
              o.peak_rss_mb / k.peak_rss_mb);
  std::sort(rss_after_sync.begin(), rss_after_sync.end());
  std::printf("(store process RSS once synced, i.e. the cache at rest: %.1f MB)\n",
              rss_after_sync[rss_after_sync.size() / 2]);
  return 0;
}

}  // namespace
}  // namespace vmrelease::bench

int main(int argc, char** argv) {
  int objects = 10000, runs = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sync-only" && i + 1 < argc) return vmrelease::bench::SyncOnly(argv[i + 1]);
    if (a == "--objects" && i + 1 < argc) {
      objects = std::atoi(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--objects N] [--runs R]\n", argv[0]);
      return 2;
    }
  }
  if (objects < 1 || runs < 1) return 2;
  return vmrelease::bench::Run(objects, runs);
}
