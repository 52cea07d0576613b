#include "controller/common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <set>
#include <string_view>
#include <vector>

#include "controller/common/clock.h"

namespace vmrelease::log {
namespace {

struct State {
  std::mutex mu;
  Format format = Format::kJson;
  std::atomic<int> level{static_cast<int>(Level::kInfo)};
  std::shared_ptr<spdlog::logger> logger;
  std::function<void(const std::string&)> capture;
  bool also_stderr = true;
  std::set<std::string, std::less<>> secrets;
  // Test-only: the secret-leak test's control run switches redaction off to prove that
  // its secrets really pass through the logged paths (tests/e2e/pipeline/secrets_e2e_test).
  bool redaction_off = false;
};

// Set only by tests; the controller logs a warning at startup when it is on.
constexpr char kRedactionOffEnv[] = "VMRELEASE_TESTING_DISABLE_REDACTION";

// The fields of the innermost ScopedFields on this thread (an object, or null).
thread_local nlohmann::json tls_fields;

State& S() {
  static State* s = [] {
    auto* st = new State();  // intentionally leaked: usable during static destruction
    st->logger = std::make_shared<spdlog::logger>(
        "vmrelease", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    st->logger->set_pattern("%v");
    st->logger->set_level(spdlog::level::trace);
    const char* off = std::getenv(kRedactionOffEnv);
    st->redaction_off = off && std::string_view(off) == "1";
    return st;
  }();
  return *s;
}

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// Patterns for secrets we may not have been told about. Each keeps its prefix
// so the line still says what was there.
const std::vector<std::pair<std::regex, std::string>>& Patterns() {
  static const auto* p = new std::vector<std::pair<std::regex, std::string>>{
      {std::regex(R"re((Bearer\s+)[A-Za-z0-9\-._~+/]+=*)re", std::regex::icase), "$1REDACTED"},
      {std::regex(R"re((\bsig=)[^&\s"';]+)re", std::regex::icase), "$1REDACTED"},
      {std::regex(R"re((AccountKey=)[^;\s"']+)re", std::regex::icase), "$1REDACTED"},
      {std::regex(R"re((SharedKey(?:Lite)?\s+[^:\s]+:)[A-Za-z0-9+/=]+)re"), "$1REDACTED"},
      {std::regex(R"re((client_secret=)[^&\s"']+)re"), "$1REDACTED"},
      {std::regex(R"re((client_assertion=)[^&\s"']+)re"), "$1REDACTED"},
      {std::regex(
           R"re(("(?:access_token|refresh_token|client_secret|token|password|accountKey)"\s*:\s*")[^"]+)re"),
       "$1REDACTED"},
  };
  return *p;
}

void ScrubString(std::string& s, const std::set<std::string, std::less<>>& secrets) {
  if (S().redaction_off) return;
  for (const auto& secret : secrets) {
    size_t pos = 0;
    while ((pos = s.find(secret, pos)) != std::string::npos) {
      s.replace(pos, secret.size(), "REDACTED");
      pos += 8;
    }
  }
  // Cheap pre-check: only run regexes when a marker is present.
  static const char* kMarkers[] = {"earer", "sig=",     "ccountKey", "SharedKey", "client_",
                                   "token", "password", "Secret",    "secret"};
  bool any = false;
  for (const char* m : kMarkers)
    if (s.find(m) != std::string::npos) {
      any = true;
      break;
    }
  if (!any) return;
  for (const auto& [re, repl] : Patterns()) s = std::regex_replace(s, re, repl);
}

// Iterative: log fields may carry objects from outside, nested arbitrarily deep.
void ScrubJson(nlohmann::json& root, const std::set<std::string, std::less<>>& secrets) {
  if (S().redaction_off) return;
  std::vector<nlohmann::json*> todo{&root};
  while (!todo.empty()) {
    nlohmann::json* j = todo.back();
    todo.pop_back();
    if (j->is_string()) {
      ScrubString(j->get_ref<std::string&>(), secrets);
    } else if (j->is_structured()) {
      for (auto& v : *j) todo.push_back(&v);
    }
  }
}

}  // namespace

void Init(Format format, Level level) {
  State& s = S();
  std::lock_guard g(s.mu);
  s.format = format;
  s.level = static_cast<int>(level);
}

bool ParseLevel(std::string_view v, Level* out) {
  if (v == "debug")
    *out = Level::kDebug;
  else if (v == "info")
    *out = Level::kInfo;
  else if (v == "warn" || v == "warning")
    *out = Level::kWarn;
  else if (v == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

bool ParseFormat(std::string_view v, Format* out) {
  if (v == "json")
    *out = Format::kJson;
  else if (v == "text")
    *out = Format::kText;
  else
    return false;
  return true;
}

bool RedactionDisabledForTesting() { return S().redaction_off; }

bool Enabled(Level level) { return static_cast<int>(level) >= S().level.load(); }

void RegisterSecret(std::string_view value) {
  if (value.size() < 8) return;
  State& s = S();
  std::lock_guard g(s.mu);
  s.secrets.emplace(value);
}

void UnregisterSecret(std::string_view value) {
  State& s = S();
  std::lock_guard g(s.mu);
  auto it = s.secrets.find(value);
  if (it != s.secrets.end()) s.secrets.erase(it);
}

std::string Redact(std::string_view text) {
  State& s = S();
  std::string out(text);
  std::lock_guard g(s.mu);
  ScrubString(out, s.secrets);
  return out;
}

void Write(Level level, std::string_view logger, std::string_view msg,
           const nlohmann::json& fields) {
  if (!Enabled(level)) return;
  State& s = S();
  std::string m(msg);
  nlohmann::json f = fields;
  if (tls_fields.is_object()) {
    if (!f.is_object()) f = nlohmann::json::object();
    for (auto& [k, v] : tls_fields.items())
      if (!f.contains(k)) f[k] = v;
  }
  std::string line;
  std::function<void(const std::string&)> capture;
  bool to_stderr;
  {
    std::lock_guard g(s.mu);
    ScrubString(m, s.secrets);
    ScrubJson(f, s.secrets);
    capture = s.capture;
    to_stderr = s.also_stderr;
    const std::string ts = FormatRfc3339(std::chrono::system_clock::now(), true);
    if (s.format == Format::kJson) {
      nlohmann::json j = nlohmann::json::object();
      j["ts"] = ts;
      j["level"] = LevelName(level);
      j["logger"] = std::string(logger);
      j["msg"] = m;
      if (f.is_object())
        for (auto& [k, v] : f.items())
          if (!j.contains(k)) j[k] = v;
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line = ts + " " + LevelName(level) + " " + std::string(logger) + ": " + m;
      if (f.is_object())
        for (auto& [k, v] : f.items())
          line +=
              " " + k + "=" +
              (v.is_string() ? v.get<std::string>()
                             : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  if (capture) capture(line);
  if (to_stderr) s.logger->info(line);
}

ScopedFields::ScopedFields(Fields fields) : previous_(tls_fields) {
  if (!tls_fields.is_object()) tls_fields = nlohmann::json::object();
  for (const auto& [k, v] : fields) tls_fields[k] = v;
}

ScopedFields::~ScopedFields() { tls_fields = std::move(previous_); }

void SetCaptureForTesting(std::function<void(const std::string&)> sink, bool also_stderr) {
  State& s = S();
  std::lock_guard g(s.mu);
  s.capture = std::move(sink);
  s.also_stderr = also_stderr || !s.capture;
}

}  // namespace vmrelease::log
