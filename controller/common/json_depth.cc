#include "controller/common/json_depth.h"

#include <vector>

namespace vmrelease {
namespace {

struct Frame {
  const nlohmann::json* value;
  size_t depth;  // of `value` (1 = the root)
};

}  // namespace

size_t JsonDepth(const nlohmann::json& j, size_t limit) {
  size_t deepest = 0;
  std::vector<Frame> stack{{&j, 1}};
  while (!stack.empty()) {
    const Frame f = stack.back();
    stack.pop_back();
    if (f.depth > deepest) deepest = f.depth;
    if (deepest > limit) return limit + 1;
    if (f.value->is_structured()) {
      for (const auto& child : *f.value) stack.push_back({&child, f.depth + 1});
    }
  }
  return deepest;
}

size_t JsonTextDepth(std::string_view text, size_t limit, char* culprit) {
  size_t open = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++open > deepest) deepest = open;
      if (deepest > limit) {
        if (culprit) *culprit = c;
        return limit + 1;
      }
    } else if ((c == ']' || c == '}') && open > 0) {
      --open;
    }
  }
  return deepest;
}

std::optional<std::string> FindDeeperThan(const nlohmann::json& j, size_t max_depth,
                                          std::string_view base) {
  // Depth-first with the path of every frame on an explicit stack.
  struct PathFrame {
    const nlohmann::json* value;
    size_t depth;
    std::string path;
  };
  std::vector<PathFrame> stack{{&j, 1, std::string(base)}};
  while (!stack.empty()) {
    PathFrame f = std::move(stack.back());
    stack.pop_back();
    if (f.depth > max_depth) return f.path;
    if (f.value->is_object()) {
      for (auto it = f.value->begin(); it != f.value->end(); ++it) {
        std::string p = f.path.empty() ? it.key() : f.path + "." + it.key();
        stack.push_back({&it.value(), f.depth + 1, std::move(p)});
      }
    } else if (f.value->is_array()) {
      for (size_t i = 0; i < f.value->size(); ++i) {
        stack.push_back({&(*f.value)[i], f.depth + 1, f.path + "[" + std::to_string(i) + "]"});
      }
    }
  }
  return std::nullopt;
}

StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, size_t max_depth) {
  if (JsonTextDepth(text, max_depth) > max_depth) {
    return InvalidArgumentError("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(e.what());
  }
}

}  // namespace vmrelease
