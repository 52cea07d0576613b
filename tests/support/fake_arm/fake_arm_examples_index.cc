// Parsed access to the example files embedded by CMake (fake_arm_examples.cc).
#include <map>
#include <mutex>
#include <stdexcept>

#include "tests/support/fake_arm/fake_arm.h"

namespace vmrelease::fake_arm {

const std::map<std::string, std::string>& EmbeddedExamples();

const nlohmann::json& Example(const std::string& file_name) {
  static std::mutex mu;
  static auto* parsed = new std::map<std::string, nlohmann::json>();
  std::lock_guard g(mu);
  auto it = parsed->find(file_name);
  if (it != parsed->end()) return it->second;
  const auto& raw = EmbeddedExamples();
  auto r = raw.find(file_name);
  // A missing example is a bug in the fake itself, not a test outcome.
  if (r == raw.end()) throw std::logic_error("fake ARM: no embedded example " + file_name);
  return parsed->emplace(file_name, nlohmann::json::parse(r->second)).first->second;
}

}  // namespace vmrelease::fake_arm
