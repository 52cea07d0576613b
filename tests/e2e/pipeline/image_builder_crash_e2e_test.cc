// Crash safety of the imageBuilder build backend: the controller is killed with
// SIGKILL again and again while four releases build with (the fake ARM's) Image
// Builder; every release must reach Released with one run of its template, no
// template run twice at once, and no template or staging blob left.
#include <gtest/gtest.h>

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
  int kills_while_running = 0;
  bool runs_released = false;
  const int kills = KillNineUntilReleased(
      s, names,
      {.seed = 13, .for_at_most = 3min, .max_kills = 80, .before_each = [&] {
         if (runs_released) return;
         if (kills_while_running >= 20) {
           s.arm().SetImageBuilderRunDuration(3s);
           runs_released = true;
         } else if (count_runs() == static_cast<int>(names.size())) {
           ++kills_while_running;  // the runs last an hour: the kill that follows lands in them
         }
       }});
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
  EXPECT_TRUE(NothingLeaks(s, 60s, &leaks));
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
