// Small helpers shared by the pipeline end-to-end tests (header-only).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/stack/pipeline_stack.h"

namespace vmrelease::testing {

// A stack whose fake ARM answers quickly: two polls per operation, Retry-After 1 s,
// one "Running" look at a run command.
inline std::unique_ptr<PipelineStack> NewFastStack(PipelineStack::Options o = {}) {
  o.arm.lro_polls = 2;
  o.arm.retry_after_seconds = 1;
  o.arm.run_command_polls = 1;
  auto s = PipelineStack::Start(std::move(o));
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return nullptr;
  }
  return std::move(*s);
}

// The condition `type` of an object's status, or an empty object.
inline nlohmann::json ConditionOf(const nlohmann::json& obj, const std::string& type) {
  const nlohmann::json* conds = kube::Find(obj, {"status", "conditions"});
  if (conds && conds->is_array()) {
    for (const nlohmann::json& c : *conds) {
      if (c.value("type", "") == type) return c;
    }
  }
  return nlohmann::json::object();
}

inline std::string StatusString(const nlohmann::json& obj,
                                std::initializer_list<std::string_view> path) {
  const nlohmann::json* v = kube::Find(obj, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

// Polls the release until `pred` holds on it (or the timeout); returns the last object read.
inline nlohmann::json WaitForRelease(PipelineStack& s, const std::string& name,
                                     const std::function<bool(const nlohmann::json&)>& pred,
                                     std::chrono::milliseconds timeout, bool* ok = nullptr) {
  nlohmann::json last;
  const bool met = WaitFor(
      [&] {
        auto r = s.GetRelease(name);
        if (!r.ok()) return false;
        last = *r;
        return pred(last);
      },
      timeout);
  if (ok) *ok = met;
  return last;
}

// The lines of a file ("" → none), e.g. build-disk's MARKER_DIR/<image>-<version>.starts.
inline std::vector<std::string> FileLines(const std::string& path) {
  std::vector<std::string> out;
  std::string text = ReadFile(path), line;
  for (char c : text) {
    if (c == '\n') {
      if (!line.empty()) out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

// The result of `check` in a release's status.validation.results, or nullptr.
inline const nlohmann::json* ResultOf(const nlohmann::json& release, const std::string& check) {
  const nlohmann::json* results = kube::Find(release, {"status", "validation", "results"});
  if (!results || !results->is_array()) return nullptr;
  for (const nlohmann::json& r : *results)
    if (r.value("name", "") == check) return &r;
  return nullptr;
}

// Events of a release with this reason (any type).
inline std::vector<nlohmann::json> EventsWithReason(PipelineStack& s, const std::string& name,
                                                    const std::string& reason) {
  std::vector<nlohmann::json> out;
  for (nlohmann::json& e : s.Events(name)) {
    if (e.value("reason", "") == reason) out.push_back(std::move(e));
  }
  return out;
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Waits (up to `timeout`) until the stack has nothing left over: no Job, Pod, Secret, VM,
// staging blob, process... (the work of a release that moved on is cleaned up asynchronously).
inline ::testing::AssertionResult NothingLeaks(PipelineStack& s, std::chrono::milliseconds timeout,
                                               LeakReport* out = nullptr) {
  LeakReport leaks;
  const bool clean = WaitFor(
      [&] {
        leaks = s.Leaks();
        return leaks.clean();
      },
      timeout);
  if (out) *out = leaks;
  if (clean) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << leaks.ToString();
}

// How KillNineUntilReleased kills.
struct KillLoop {
  unsigned seed = 1;                         // of the random gaps between kills
  std::chrono::milliseconds for_at_most{0};  // then it stops killing
  int max_kills = 60;
  // Called before each gap and kill, e.g. to count kills that land in some state.
  std::function<void()> before_each;
};

// Kills the controller with SIGKILL after a random gap of 150-900 ms and starts it again,
// until every release in `names` is Released, the time is up or it has killed max_kills
// times. Returns how many times it killed (a failed restart is a test failure).
inline int KillNineUntilReleased(PipelineStack& s, const std::vector<std::string>& names,
                                 const KillLoop& o) {
  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int> gap_ms(150, 900);
  int kills = 0;
  const auto deadline = std::chrono::steady_clock::now() + o.for_at_most;
  while (std::chrono::steady_clock::now() < deadline && kills < o.max_kills) {
    size_t released = 0;
    for (const std::string& n : names) {
      auto r = s.GetRelease(n);
      if (r.ok() && StatusString(*r, {"status", "phase"}) == "Released") ++released;
    }
    if (released == names.size()) break;
    if (o.before_each) o.before_each();
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms(rng)));
    s.StopController(SIGKILL);
    ++kills;
    if (Status st = s.StartController(); !st.ok()) {
      ADD_FAILURE() << "restarting the controller: " << st.ToString();
      break;
    }
  }
  return kills;
}

}  // namespace vmrelease::testing
