// Crash safety of the imageBuilder build backend: the controller is killed with
// SIGKILL again and again while four releases build with (the fake ARM's) Image
// Builder; every release must reach Released with one run of its template, no
// template run twice at once, and no template or staging blob left.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "tests/e2e/pipeline/pipeline_e2e_util.h"

namespace vmrelease::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

TEST(ImageBuilderCrashE2ETest, KillNineDuringImageBuilderBuildsLeavesNothingAndNeverRunsTwice) {
  PipelineStack::Options so;
  // Runs last until the test has killed the controller 20 times while they build;
  // then they end (after 3 s) and the kills go on through copy, verify and publish.
  so.arm.image_builder_run_duration = 1h;
  auto stack = NewFastStack(std::move(so));
  ASSERT_NE(stack, nullptr);
  PipelineStack& s = *stack;
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    ReleaseSpecOptions o;
    o.version = "6." + std::to_string(i) + ".0";
    o.name = "app-6-" + std::to_string(i);
    o.build = "imageBuilder";
    names.push_back(o.name);
    ASSERT_TRUE(s.Create(s.Release(o)).ok());
  }
  auto count_runs = [&] {
    int n = 0;
    for (const auto& [name, runs] : s.arm().ImageBuilderRuns()) n += runs;
    return n;
  };
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> gap_ms(150, 900);
  int kills = 0, kills_while_running = 0;
  bool runs_released = false;
  const auto deadline = std::chrono::steady_clock::now() + 3min;
  while (std::chrono::steady_clock::now() < deadline && kills < 80) {
    int released = 0;
    for (const std::string& n : names) {
      auto r = s.GetRelease(n);
      if (r.ok() && StatusString(*r, {"status", "phase"}) == "Released") ++released;
    }
    if (released == static_cast<int>(names.size())) break;
    if (!runs_released && kills_while_running >= 20) {
      s.arm().SetImageBuilderRunDuration(3s);
      runs_released = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms(rng)));
    if (!runs_released && count_runs() == static_cast<int>(names.size())) ++kills_while_running;
    s.StopController(SIGKILL);
    ++kills;
    ASSERT_TRUE(s.StartController().ok());
  }
  if (!runs_released) s.arm().SetImageBuilderRunDuration(3s);
  std::vector<std::string> templates;
  for (const std::string& n : names) {
    std::string why;
    Json r = s.WaitForPhase(n, "Released", 120s, &why);
    ASSERT_FALSE(r.is_null()) << why;
    templates.push_back(StatusString(r, {"status", "build", "name"}));
  }
  EXPECT_GE(kills_while_running, 20) << "fewer than 20 kills while all four runs were going";
  LeakReport leaks;
  EXPECT_TRUE(WaitFor(
      [&] {
        leaks = s.Leaks();
        return leaks.clean();
      },
      60s))
      << leaks.ToString();
  const std::map<std::string, int> runs = s.arm().ImageBuilderRuns();
  int total_runs = 0;
  for (const std::string& t : templates) {
    auto it = runs.find(t);
    const int n = it == runs.end() ? 0 : it->second;
    EXPECT_EQ(n, 1) << "template " << t << " ran " << n << " times";
    total_runs += n;
  }
  EXPECT_EQ(runs.size(), templates.size());
  const int overlapping = s.arm().ImageBuilderOverlappingRuns();
  EXPECT_EQ(overlapping, 0) << "a template was run while its run was going";
  std::printf(
      "imageBuilder crash safety: %d kill -9 (%d while all runs were going) over %zu releases; "
      "all Released; runs %d (per template: 1 expected), overlapping runs %d; leaked: %zu image "
      "templates, %zu staging blobs\n",
      kills, kills_while_running, names.size(), total_runs, overlapping,
      leaks.image_templates.size(), leaks.staging_blobs.size());
}

}  // namespace
}  // namespace vmrelease::testing
