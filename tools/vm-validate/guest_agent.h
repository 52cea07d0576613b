// A client for the QEMU guest agent (qemu-ga) protocol over a connected stream socket:
// the host end of the virtio-serial port QEMU exposes as a UNIX socket chardev.
//
//   GuestAgent agent(fd, [&] { return vm.CheckAlive(); });
//   RETURN_IF_ERROR(agent.Sync(boot_deadline));
//   ASSIGN_OR_RETURN(int64_t pid, agent.Exec({.path = "/bin/sh", .args = {"-c", script}}, d));
//   ASSIGN_OR_RETURN(GuestExecStatus st, agent.ExecStatus(pid, d));
//
// Protocol (see /work/shared/reference/qemu/guest-agent.md): QMP-style JSON requests, one
// JSON object per reply followed by "\n", no greeting. Requests written before qemu-ga opened
// its port are queued and answered later, in order, so a sync retried during boot must use a
// fresh id per attempt and wait for the latest one only; every reply before it is stale.
// guest-sync-delimited replies start with 0xFF, which tells us to drop any half-read reply.
//
// Guarantees: after Sync() succeeds, the next reply read belongs to the next request sent.
// Caveats: one client at a time per socket; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace vmrelease::vmvalidate {

using SteadyTime = std::chrono::steady_clock::time_point;

// A guest-exec request. `env`, when non-empty, replaces the child's whole environment
// (qemu-ga semantics): include PATH.
struct GuestCommand {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  bool capture_output = true;
};

// guest-exec-status once the process has exited (the first such reply reaps it in the guest).
struct GuestExecStatus {
  bool exited = false;
  std::optional<int> exit_code;  // set for a normal exit
  std::optional<int> signal;     // set when killed by a signal
  std::string out;               // decoded stdout (capped at 16 MiB by qemu-ga)
  std::string err;               // decoded stderr
  bool out_truncated = false;
  bool err_truncated = false;
};

class GuestAgent {
 public:
  // Called about every 100 ms while waiting for the guest; a non-OK status aborts the wait
  // with that status (e.g. "qemu exited", "interrupted by SIGTERM").
  using Interrupt = std::function<Status()>;

  // Takes ownership of `fd` (a connected stream socket).
  GuestAgent(int fd, Interrupt interrupt);
  ~GuestAgent();
  GuestAgent(const GuestAgent&) = delete;
  GuestAgent& operator=(const GuestAgent&) = delete;

  // guest-sync-delimited with a fresh random id every `resend_every` until the reply for the
  // latest id arrives. Errors: kDeadlineExceeded, kUnavailable (connection closed), or what
  // the interrupt returned.
  Status Sync(SteadyTime deadline,
              std::chrono::milliseconds resend_every = std::chrono::milliseconds(2000));

  // One command; returns the "return" member. An {"error": ...} reply becomes kUnknown with
  // the agent's description; kDeadlineExceeded / kUnavailable as above.
  StatusOr<nlohmann::json> Execute(const std::string& command, const nlohmann::json& arguments,
                                   SteadyTime deadline);

  StatusOr<int64_t> Exec(const GuestCommand& command, SteadyTime deadline);
  StatusOr<GuestExecStatus> ExecStatus(int64_t pid, SteadyTime deadline);

  // Writes a request and does not wait for its reply (used for poweroff, whose reply may
  // never come). Best effort.
  Status SendOnly(const std::string& command, const nlohmann::json& arguments);

 private:
  Status Send(const std::string& bytes, SteadyTime deadline);
  // The next complete reply, waiting until `deadline`. Lines that are not JSON objects are
  // skipped (a guest cannot send any, but a restarted agent may leave half a line).
  StatusOr<nlohmann::json> ReadReply(SteadyTime deadline);
  // Reads whatever is available within `max_wait`; kUnavailable on EOF.
  Status Fill(std::chrono::milliseconds max_wait);

  int fd_;
  Interrupt interrupt_;
  std::string buf_;
};

}  // namespace vmrelease::vmvalidate
