// EnvironmentPin steady-state benchmark: 1,000 Released ImageReleases and 300
// EnvironmentPins in the local API server, the real vmrelease-controller.
//
//   build/bin/pin_settle_bench [--releases 1000] [--pins 300] [--steady-seconds 60]
//
// Prints:
//   - cold settle: controller start → every pin Ready at the version it should run
//     (a third track a range, a third are exact, a third are gated on another
//     environment with a 2 s soak time, a third export a ConfigMap);
//   - writes per minute at steady state: every change the API server stores to
//     pins, releases and ConfigMaps (counted by watches) over --steady-seconds,
//     after the controller has settled;
//   - restart: a new controller process → every pin reconciled once (its debug
//     "reconciled" line), and the writes that restart caused.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/log.h"
#include "controller/kube/config.h"
#include "controller/kube/rest_client.h"
#include "controller/kube/watcher.h"
#include "tests/support/apiserver/fixture.h"
#include "tests/support/stack/controller_process.h"

namespace vmrelease::bench {
namespace {

using kube::Json;
using Clock = std::chrono::steady_clock;

const kube::ResourceType kReleases{"vmrelease.io", "v1alpha1", "imagereleases", "ImageRelease",
                                   true};
const kube::ResourceType kPins{"vmrelease.io", "v1alpha1", "environmentpins", "EnvironmentPin",
                               true};
const kube::ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};

// Counts what a watch delivers after its initial list: one per stored write.
class CountingSink final : public kube::WatchSink {
 public:
  void Replace(std::vector<kube::ObjectPtr>) override { synced_ = true; }
  void Apply(kube::ObjectPtr) override { ++writes_; }
  void Delete(kube::ObjectPtr) override { ++writes_; }
  bool synced() const { return synced_; }
  int64_t writes() const { return writes_; }

 private:
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> writes_{0};
};

int Arg(int argc, char** argv, const std::string& name, int def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return std::atoi(argv[i + 1]);
  return def;
}

Json ReleaseObject(const std::string& image, int minor) {
  const std::string version = "1." + std::to_string(minor) + ".0";
  return {{"apiVersion", "vmrelease.io/v1alpha1"},
          {"kind", "ImageRelease"},
          {"metadata",
           {{"name", image + "-1-" + std::to_string(minor) + "-0"}, {"namespace", "default"}}},
          {"spec",
           {{"image", image},
            {"version", version},
            {"changelog", {{{"kind", "Fix"}, {"summary", "fixes in " + version}}}},
            {"source",
             {{"platformImage",
               {{"publisher", "Debian"},
                {"offer", "debian-12"},
                {"sku", "12-gen2"},
                {"version", "latest"}}}}},
            {"build", {{"local", {{"command", {"true"}}}}}},
            {"validation",
             {{"local", {{"command", {"true"}}}},
              {"checks", {{{"name", "smoke"}, {"script", "true"}}}}}},
            {"publish",
             {{"blob",
               {{"accountUrl", "http://127.0.0.1:10000/devstoreaccount1"},
                {"container", "images"}}}}}}}};
}

Json ReleasedStatus(const std::string& image, int minor) {
  const std::string version = "1." + std::to_string(minor) + ".0";
  return {{"status",
           {{"phase", "Released"},
            {"observedGeneration", 1},
            {"artifact", {{"sha256", std::string(64, 'c')}, {"sizeBytes", 1048576}}},
            {"publish",
             {{"blobUri", "http://127.0.0.1:10000/devstoreaccount1/images/" + image + "/" +
                              version + ".vhd"}}}}}};
}

struct PinPlan {
  Json object;
  std::string want;  // the version it should settle on
};

// Pin i of image `image` (`versions` Released versions 1.0.0 .. 1.<versions-1>.0).
PinPlan PinObject(const std::string& image, int i, int versions) {
  const std::string name = image + "-env-" + std::to_string(i);
  const std::string latest = "1." + std::to_string(versions - 1) + ".0";
  Json spec = {{"environment", "env-" + std::to_string(i)}, {"image", image}};
  std::string want;
  if (i % 3 == 0) {
    spec["track"] = {{"semver", "^1.0.0"}};
    want = latest;
  } else if (i % 3 == 1) {
    want = "1." + std::to_string(i % versions) + ".0";
    spec["version"] = want;
  } else {
    // Gated on the track pin of the same group: waits for a 2 s soak.
    spec["version"] = latest;
    spec["promotion"] = {
        {"requirePinnedIn",
         {{{"environment", "env-" + std::to_string(i - 2)}, {"forAtLeast", "2s"}}}}};
    want = latest;
  }
  if (i % 3 == (i / 3) % 3) spec["export"] = {{"configMap", {{"name", name + "-image"}}}};
  return {{{"apiVersion", "vmrelease.io/v1alpha1"},
           {"kind", "EnvironmentPin"},
           {"metadata", {{"name", name}, {"namespace", "default"}}},
           {"spec", spec}},
          want};
}

bool Settled(const Json& pin, const std::string& want) {
  const Json* v = kube::Find(pin, {"status", "resolved", "version"});
  if (!v || *v != want) return false;
  const Json* og = kube::Find(pin, {"status", "observedGeneration"});
  if (!og || *og != pin["metadata"].value("generation", 0)) return false;
  for (const Json& c : pin["status"].value("conditions", Json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

int Run(int argc, char** argv) {
  log::Init(log::Format::kJson, log::Level::kError);
  const int n_releases = Arg(argc, argv, "--releases", 1000);
  const int n_pins = Arg(argc, argv, "--pins", 300);
  const int steady = Arg(argc, argv, "--steady-seconds", 60);
  const int images = 10;
  const int versions = n_releases / images;
  const int pins_per_image = n_pins / images;

  auto server = testing::LocalApiServer::Start(
      {.crds_dir = std::string(VMRELEASE_SOURCE_DIR_DEFAULT) + "/crds"});
  if (!server.ok()) {
    std::fprintf(stderr, "api server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  auto cfg = kube::LoadDefaultConfig({.path = (*server)->kubeconfig()});
  auto client = kube::RestClient::FromConfig(*cfg);
  if (!cfg.ok() || !client.ok()) return 1;
  kube::RestClient& api = **client;

  std::printf("creating %d releases (%d images x %d versions) and %d pins...\n", images * versions,
              images, versions, images * pins_per_image);
  std::fflush(stdout);
  for (int im = 0; im < images; ++im) {
    const std::string image = "img" + std::to_string(im);
    for (int v = 0; v < versions; ++v) {
      if (!api.Create(kReleases, ReleaseObject(image, v)).ok()) return 1;
      auto st = api.PatchStatus(kReleases, {"default", image + "-1-" + std::to_string(v) + "-0"},
                                kube::PatchType::kMerge, ReleasedStatus(image, v));
      if (!st.ok()) {
        std::fprintf(stderr, "status: %s\n", st.status().ToString().c_str());
        return 1;
      }
    }
  }
  std::map<std::string, std::string> want;  // pin → version
  for (int im = 0; im < images; ++im) {
    for (int i = 0; i < pins_per_image; ++i) {
      PinPlan p = PinObject("img" + std::to_string(im), i, versions);
      want[p.object["metadata"]["name"]] = p.want;
      auto created = api.Create(kPins, p.object);
      if (!created.ok()) {
        std::fprintf(stderr, "pin: %s\n", created.status().ToString().c_str());
        return 1;
      }
    }
  }

  auto all_settled = [&] {
    auto list = kube::ListAll(api, kPins, {.ns = "default"});
    if (!list.ok()) return false;
    size_t n = 0;
    for (const Json& p : list->items) n += Settled(p, want[kube::Name(p)]);
    return n == want.size();
  };
  const std::vector<std::string> flags = {"--log-format",
                                          "json",
                                          "--log-level",
                                          "debug",
                                          "--metrics-bind-address",
                                          "0",
                                          "--allow-local-builds",
                                          "--work-dir",
                                          "/tmp/pin-bench-work",
                                          "--workers",
                                          "2"};

  // 1. Cold settle.
  const auto t0 = Clock::now();
  auto ctl = itest::ControllerProcess::Start((*server)->kubeconfig(), flags);
  if (!ctl) return 1;
  while (!all_settled()) {
    if (Clock::now() - t0 > std::chrono::minutes(10)) {
      std::fprintf(stderr, "pins did not settle in 10 minutes\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double cold = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("cold settle: %.2f s (controller start -> all %zu pins Ready at their version)\n",
              cold, want.size());
  std::fflush(stdout);
  // Let the releases record who pins them (status.pinnedBy) before measuring.
  std::this_thread::sleep_for(std::chrono::seconds(5));

  // 2. Steady state.
  CountingSink pin_w, rel_w, cm_w;
  kube::Watcher wp(api, pin_w, {.type = kPins, .ns = "default"});
  kube::Watcher wr(api, rel_w, {.type = kReleases, .ns = "default"});
  kube::Watcher wc(api, cm_w, {.type = kConfigMaps, .ns = "default"});
  wp.Start();
  wr.Start();
  wc.Start();
  while (!pin_w.synced() || !rel_w.synced() || !cm_w.synced())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::seconds(steady));
  const double minutes = steady / 60.0;
  std::printf(
      "steady state over %d s: %.1f pin writes/min, %.1f release writes/min, "
      "%.1f ConfigMap writes/min\n",
      steady, pin_w.writes() / minutes, rel_w.writes() / minutes, cm_w.writes() / minutes);
  std::fflush(stdout);

  // 3. Restart.
  ctl->Signal(SIGTERM);
  (void)ctl->process().Wait(std::chrono::seconds(60));
  const int64_t before_p = pin_w.writes(), before_r = rel_w.writes(), before_c = cm_w.writes();
  const auto t1 = Clock::now();
  const auto wall1 = std::chrono::system_clock::now();
  ctl = itest::ControllerProcess::Start((*server)->kubeconfig(), flags);
  if (!ctl) return 1;
  std::set<std::string> seen;
  double restart = -1;
  while (Clock::now() - t1 < std::chrono::minutes(5)) {
    seen.clear();
    std::string last_ts;
    for (const Json& l : ctl->Find("reconciled")) {
      if (l.value("controller", "") != "environmentpin") continue;
      if (seen.insert(l.value("key", "")).second) last_ts = l.value("ts", "");
    }
    if (seen.size() >= want.size()) {
      WallTime at;
      if (ParseRfc3339(last_ts, &at)) restart = std::chrono::duration<double>(at - wall1).count();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::seconds(5));
  std::printf(
      "restart: %.2f s (process start -> all %zu pins reconciled), writes caused: "
      "%lld pins, %lld releases, %lld ConfigMaps; still settled: %s\n",
      restart, want.size(), static_cast<long long>(pin_w.writes() - before_p),
      static_cast<long long>(rel_w.writes() - before_r),
      static_cast<long long>(cm_w.writes() - before_c), all_settled() ? "yes" : "no");
  ctl->Signal(SIGTERM);
  (void)ctl->process().Wait(std::chrono::seconds(60));
  wp.Stop();
  wr.Stop();
  wc.Stop();
  return 0;
}

}  // namespace
}  // namespace vmrelease::bench

int main(int argc, char** argv) { return vmrelease::bench::Run(argc, argv); }
