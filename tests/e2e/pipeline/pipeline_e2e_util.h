// Small helpers shared by the pipeline end-to-end tests (header-only).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
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

}  // namespace vmrelease::testing
