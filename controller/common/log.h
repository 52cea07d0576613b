// Structured logging: one JSON object per line (or readable text), with
// secrets scrubbed from every line before it is written.
//
//   log::Init(log::Format::kJson, log::Level::kInfo);
//   log::Info("kube.watcher", "watch restarted", {{"resource", "imagereleases"}, {"rv", rv}});
//
// Guarantees: a value registered with RegisterSecret(), and anything that looks
// like a bearer token, SAS signature, account key or client secret, is replaced
// by "REDACTED" in the message and in every string field. Thread-safe.
#pragma once

#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace vmrelease::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kJson, kText };

using Field = std::pair<std::string, nlohmann::json>;
using Fields = std::initializer_list<Field>;

// Configures the process logger (stderr). Safe to call again.
void Init(Format format, Level level);
bool ParseLevel(std::string_view s, Level* out);
bool ParseFormat(std::string_view s, Format* out);
bool Enabled(Level level);

void Write(Level level, std::string_view logger, std::string_view msg,
           const nlohmann::json& fields);
inline void Write(Level level, std::string_view logger, std::string_view msg, Fields fields) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fields) j[k] = v;
  Write(level, logger, msg, j);
}
inline void Debug(std::string_view logger, std::string_view msg, Fields f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, logger, msg, f);
}
inline void Info(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kInfo, logger, msg, f);
}
inline void Warn(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kWarn, logger, msg, f);
}
inline void Error(std::string_view logger, std::string_view msg, Fields f = {}) {
  Write(Level::kError, logger, msg, f);
}

// Marks a literal secret value (token, key, password) so it never appears in a
// log line, even embedded in a URL or error text. Values shorter than 8
// characters are ignored to avoid scrubbing common words.
void RegisterSecret(std::string_view value);
// Forgets a value registered with RegisterSecret (e.g. an access token that has
// expired and been replaced), so long-running processes do not accumulate them.
void UnregisterSecret(std::string_view value);
// Returns `text` with registered secrets and secret-looking patterns replaced.
// Use it for any text that leaves the process (status messages, Events).
std::string Redact(std::string_view text);

// True when VMRELEASE_TESTING_DISABLE_REDACTION=1 switched redaction off (the
// secret-leak test's control run only; the controller warns at startup).
bool RedactionDisabledForTesting();

// Adds `fields` to every line this thread writes while the scope lives, e.g. the
// controller, namespace, name and reconcileID of the reconcile the thread runs.
// A field the line itself sets wins; nested scopes add to (and override) outer ones.
// Lines written by other threads (started by the reconcile or not) do not carry them.
//
//   log::ScopedFields scope({{"reconcileID", id}, {"name", ref.name}});
class ScopedFields {
 public:
  explicit ScopedFields(Fields fields);
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;

 private:
  nlohmann::json previous_;
};

// Tests: capture every formatted line (in addition to stderr unless `also_stderr` is false).
void SetCaptureForTesting(std::function<void(const std::string&)> sink, bool also_stderr = false);

}  // namespace vmrelease::log
