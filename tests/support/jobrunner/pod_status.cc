#include "tests/support/jobrunner/pod_status.h"

#include <fstream>
#include <vector>

namespace vmrelease::jobrunner {
namespace {

using kube::Json;

// The last `max` bytes of a file ("" when it cannot be read).
std::string ReadTail(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  if (size <= 0) return "";
  const std::streamoff start =
      size > static_cast<std::streamoff>(max) ? size - static_cast<std::streamoff>(max) : 0;
  in.seekg(start);
  std::string out(static_cast<size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

Json Condition(const Json& pod, const std::string& type, bool status, const std::string& reason,
               const std::string& message, WallTime now) {
  const std::string s = status ? "True" : "False";
  std::string ltt = KubeTime(now);
  const Json conds = pod.value("status", Json::object()).value("conditions", Json::array());
  for (const auto& c : conds) {
    if (c.is_object() && c.value("type", "") == type && c.value("status", "") == s &&
        c.contains("lastTransitionTime") && c["lastTransitionTime"].is_string())
      ltt = c["lastTransitionTime"].get<std::string>();
  }
  Json j = {{"type", type}, {"status", s}, {"lastProbeTime", nullptr}, {"lastTransitionTime", ltt}};
  if (!reason.empty()) j["reason"] = reason;
  if (!message.empty()) j["message"] = message;
  return j;
}

}  // namespace

std::string SanitizeUtf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    }
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(in[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = (cp << 6) | (c & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    ok = ok && !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
         !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD, as Go's encoder writes
      ++i;
    }
  }
  return out;
}

std::string KubeTime(WallTime t) {
  return FormatRfc3339(std::chrono::time_point_cast<std::chrono::seconds>(t));
}

Json TerminatedState(const ContainerView& c) {
  Json t = {{"exitCode", c.exit_code},
            {"reason", c.reason},
            {"startedAt", KubeTime(c.started_at)},
            {"finishedAt", KubeTime(c.finished_at)},
            {"containerID", c.container_id}};
  if (!c.message.empty()) t["message"] = c.message;
  // No `signal`: CRI runtimes report a killed container as exit code 128+N.
  return t;
}

Json BuildPodStatus(const Json& pod, const std::string& phase, const ContainerView& c, WallTime now,
                    const std::string& reason, const std::string& message) {
  const bool terminal = phase == "Succeeded" || phase == "Failed";
  const bool ready = phase == "Running" && c.state == ContainerView::State::kRunning;
  const std::string unready = "containers with unready status: [" + c.name + "]";
  std::string not_ready_reason = "ContainersNotReady";
  std::string not_ready_message = unready;
  if (phase == "Succeeded") {
    not_ready_reason = "PodCompleted";
    not_ready_message = "";
  } else if (phase == "Failed") {
    not_ready_reason = "PodFailed";
    not_ready_message = "";
  }
  Json conds = Json::array();
  conds.push_back(Condition(pod, "PodReadyToStartContainers", !terminal, "", "", now));
  conds.push_back(
      Condition(pod, "Initialized", true, phase == "Succeeded" ? "PodCompleted" : "", "", now));
  conds.push_back(Condition(pod, "Ready", ready, ready ? "" : not_ready_reason,
                            ready ? "" : not_ready_message, now));
  conds.push_back(Condition(pod, "ContainersReady", ready, ready ? "" : not_ready_reason,
                            ready ? "" : not_ready_message, now));
  conds.push_back(Condition(pod, "PodScheduled", true, "", "", now));

  Json state = Json::object();
  switch (c.state) {
    case ContainerView::State::kWaiting: {
      Json w = {{"reason", c.reason.empty() ? "ContainerCreating" : c.reason}};
      if (!c.message.empty()) w["message"] = c.message;
      state["waiting"] = w;
      break;
    }
    case ContainerView::State::kRunning:
      state["running"] = {{"startedAt", KubeTime(c.started_at)}};
      break;
    case ContainerView::State::kTerminated:
      state["terminated"] = TerminatedState(c);
      break;
  }
  Json cs = {{"name", c.name},
             {"image", c.image},
             {"imageID", ""},
             {"ready", ready},
             {"started", c.state == ContainerView::State::kRunning},
             {"restartCount", c.restart_count},
             {"state", state},
             {"lastState", Json::object()}};
  if (!c.container_id.empty()) cs["containerID"] = c.container_id;
  if (c.last_terminated) cs["lastState"] = {{"terminated", *c.last_terminated}};

  const Json old = pod.value("status", Json::object());
  Json status = {{"phase", phase},
                 {"conditions", conds},
                 {"hostIP", "127.0.0.1"},
                 {"hostIPs", Json::array({{{"ip", "127.0.0.1"}}})},
                 {"podIP", "127.0.0.1"},
                 {"podIPs", Json::array({{{"ip", "127.0.0.1"}}})},
                 {"startTime", old.value("startTime", KubeTime(now))},
                 {"containerStatuses", Json::array({cs})},
                 {"qosClass", old.value("qosClass", "BestEffort")}};
  if (!reason.empty()) status["reason"] = reason;
  if (!message.empty()) status["message"] = message;
  return status;
}

std::string LogTail(const std::string& path, int lines, size_t max_bytes) {
  // 80 lines of a log can be long; read a generous tail, then cut by lines.
  std::string text = ReadTail(path, 1 << 20);
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++n == lines) break;
  }
  std::string tail = text.substr(pos);
  if (tail.size() > max_bytes) tail.resize(max_bytes);
  return tail;
}

std::string TerminationMessage(const std::string& file_path, const std::string& log_path,
                               const std::string& policy, int exit_code, size_t containers) {
  std::string msg = ReadTail(file_path, kMaxTerminationMessageBytes);
  if (msg.empty() && policy == "FallbackToLogsOnError" && exit_code != 0)
    msg = LogTail(log_path, kMaxTerminationMessageLogLines, kMaxTerminationMessageLogBytes);
  const size_t budget = kMaxPodTerminationMessageBytes / (containers == 0 ? 1 : containers);
  if (msg.size() > budget) msg.resize(budget);
  return SanitizeUtf8(msg);
}

}  // namespace vmrelease::jobrunner
