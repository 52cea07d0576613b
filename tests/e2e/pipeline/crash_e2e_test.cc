// Crash safety: the controller is killed with SIGKILL at every step boundary and
// at random points inside steps, and restarted each time, while several
// releases move through the pipeline. Every release must end as it would have
// without the kills, and nothing may be leaked, run twice or overwritten.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <set>
#include <sstream>

#include "controller/common/crypto.h"
#include "tests/support/stack/pipeline_stack.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

std::string Phase(const Json& r) {
  const Json* p = kube::Find(r, {"status", "phase"});
  return p && p->is_string() ? p->get<std::string>() : "";
}

// The controller log lines that mention `name` (the last 80), for failure messages.
std::string LogLinesAbout(const std::string& logs, const std::string& name) {
  std::vector<std::string> lines;
  std::istringstream in(logs);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("/" + name + "\"") != std::string::npos ||
        line.find("/" + name + "|") != std::string::npos ||
        line.find(name + "\"") != std::string::npos)
      lines.push_back(line);
  }
  std::string out;
  for (size_t i = lines.size() > 80 ? lines.size() - 80 : 0; i < lines.size(); ++i)
    out += lines[i] + "\n";
  return out;
}

TEST(CrashSafetyE2ETest, KillNineAtStepBoundariesAndInsideStepsLeavesNothingBehind) {
  PipelineStack::Options so;
  so.arm.lro_polls = 2;
  so.arm.retry_after_seconds = 1;
  so.arm.run_command_polls = 2;
  so.image_definitions = {"app", "web"};
  auto started = PipelineStack::Start(so);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  PipelineStack& s = **started;

  // Eight releases: gallery + blob + a test VM, and blob + local checks; builds
  // and checks take a little while so kills land inside them too.
  std::vector<std::string> names;
  std::set<std::string> with_gallery;
  for (int i = 0; i < 8; ++i) {
    ReleaseSpecOptions o;
    o.image = i % 2 == 0 ? "app" : "web";
    o.version = "1." + std::to_string(i / 2) + ".0";
    o.name = o.image + "-" + std::to_string(i / 2);
    o.build_env = {{"BUILD_SECONDS", "3"}, {"DISK_MIB", "3"}};
    if (i < 4) {
      o.validation = "vm";
      o.gallery = true;
      o.regions = {"westeurope", "northeurope"};
      with_gallery.insert(o.name);
    } else {
      o.check_env = {{"CHECK_SECONDS", "2"}};
    }
    o.checks = {{"first", "echo one"}, {"second", "echo two"}, {"third", "echo three"}};
    names.push_back(o.name);
    ASSERT_TRUE(s.Create(s.Release(o)).ok());
  }

  // Kill: whenever a release enters a new phase (a step boundary), and at random
  // moments in between (inside a step: a build, an upload, a VM operation, a check),
  // until every release is Released.
  std::mt19937 rng(20261206);
  std::uniform_int_distribution<int> random_gap_ms(200, 1200);
  std::map<std::string, std::string> last_phase;
  int kills = 0, boundary_kills = 0, random_kills = 0;
  auto last_kill = std::chrono::steady_clock::now();
  int gap = random_gap_ms(rng);
  const auto deadline = std::chrono::steady_clock::now() + 5min;
  // The phases some release was in at the moment of a kill: every step must have
  // been interrupted at least once, however fast this machine runs the pipeline.
  std::set<std::string> killed_in;
  auto kill_and_restart = [&](bool at_boundary) {
    for (const auto& [n, phase] : last_phase) killed_in.insert(phase);
    s.StopController(SIGKILL);
    ++kills;
    (at_boundary ? boundary_kills : random_kills)++;
    last_kill = std::chrono::steady_clock::now();
    gap = random_gap_ms(rng);
    return s.StartController().ok();
  };
  while (std::chrono::steady_clock::now() < deadline && kills < 120) {
    bool boundary = false;
    int released = 0;
    for (const std::string& n : names) {
      auto r = s.GetRelease(n);
      if (!r.ok()) continue;
      const std::string phase = Phase(*r);
      if (phase != last_phase[n]) {
        boundary = boundary || !phase.empty();
        last_phase[n] = phase;
      }
      if (phase == "Released") ++released;
    }
    if (released == static_cast<int>(names.size())) break;
    if (boundary) {
      ASSERT_TRUE(kill_and_restart(true));
    } else if (std::chrono::steady_clock::now() - last_kill > std::chrono::milliseconds(gap)) {
      ASSERT_TRUE(kill_and_restart(false));
    }
    std::this_thread::sleep_for(100ms);
  }
  // Finish without further kills.
  for (const std::string& n : names) {
    std::string why;
    Json r = s.WaitForPhase(n, "Released", 180s, &why);
    if (r.is_null()) {
      const std::string kept = "/tmp/vmrelease-crash-test-" + std::to_string(getpid()) + ".log";
      WriteFile(kept, s.ControllerLogs());
      FAIL() << why << "\ncontroller logs: " << kept << "\n"
             << LogLinesAbout(s.ControllerLogs(), n);
    }
  }
  // How many kills fit depends on the machine's speed (62-75 here, 32 on a quiet CI
  // run); what must hold is that each step was cut at least once.
  EXPECT_GE(kills, 20);
  for (const char* phase : {"Building", "Validating", "Publishing"})
    EXPECT_TRUE(killed_in.count(phase)) << "no kill landed while a release was " << phase;

  // Every release ended as without kills: its published blob is its artifact.
  int blobs = 0;
  for (const std::string& n : names) {
    auto r = s.GetRelease(n);
    ASSERT_TRUE(r.ok());
    const Json& st = (*r)["status"];
    const std::string image = (*r)["spec"]["image"], version = (*r)["spec"]["version"];
    auto blob = s.blobs().GetBlob({"images", image + "/" + version + ".vhd"});
    ASSERT_TRUE(blob.ok()) << n << ": " << blob.status().ToString();
    EXPECT_EQ(Sha256Hex(*blob), st["artifact"]["sha256"]) << n;
    auto props = s.blobs().GetProperties({"images", image + "/" + version + ".vhd"});
    ASSERT_TRUE(props.ok());
    EXPECT_EQ(props->metadata["vmrelease_release_uid"], (*r)["metadata"]["uid"]) << n;
    ++blobs;
    for (const Json& c : st["validation"]["results"]) EXPECT_TRUE(c["passed"]) << n;
    EXPECT_EQ(st["validation"]["results"].size(), 3u) << n;
  }
  auto published = s.blobs().ListBlobs("images");
  ASSERT_TRUE(published.ok());

  // Nothing leaked, nothing duplicated, no build ran twice at once.
  const LeakReport leaks = s.Leaks();
  EXPECT_TRUE(leaks.clean()) << leaks.ToString();
  EXPECT_EQ(leaks.gallery_versions, static_cast<int>(with_gallery.size()));
  EXPECT_EQ(published->size(), names.size());
  int overlaps = 0, starts = 0;
  for (const std::string& n : names) {
    auto r = s.GetRelease(n);
    const std::string base = s.marker_dir() + "/" + std::string((*r)["spec"]["image"]) + "-" +
                             std::string((*r)["spec"]["version"]);
    const std::string o = ReadFile(base + ".overlaps");
    overlaps += static_cast<int>(std::count(o.begin(), o.end(), '\n'));
    const std::string st = ReadFile(base + ".starts");
    starts += static_cast<int>(std::count(st.begin(), st.end(), '\n'));
  }
  EXPECT_EQ(overlaps, 0) << "a build ran twice at the same time";
  EXPECT_EQ(starts, static_cast<int>(names.size()))
      << "a build was started again instead of adopted";
  std::printf(
      "crash safety: %d kill -9 (%d at step boundaries, %d inside steps) over %zu releases; "
      "all Released; leaked: %zu VMs, %zu NICs, %zu disks, %zu staging blobs, %zu processes; "
      "gallery versions %d (expected %zu, duplicates %d); published blobs %zu (expected %zu); "
      "build starts %d, overlapping builds %d\n",
      kills, boundary_kills, random_kills, names.size(), leaks.vms.size(), leaks.nics.size(),
      leaks.disks.size(), leaks.staging_blobs.size(), leaks.processes.size(),
      leaks.gallery_versions, with_gallery.size(),
      leaks.gallery_versions - static_cast<int>(with_gallery.size()), published->size(),
      names.size(), starts, overlaps);
  (void)blobs;
}

}  // namespace
}  // namespace vmrelease::testing
