#include "tools/vm-validate/guest_agent.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "controller/common/crypto.h"
#include "controller/common/json_depth.h"

namespace vmrelease::vmvalidate {
namespace {

using std::chrono::milliseconds;

constexpr char kDelimiter = '\xff';
constexpr milliseconds kTick(100);

milliseconds Until(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, milliseconds(0));
}

// A random sync id: 53 bits, so it survives any JSON reader, never 0.
uint64_t FreshId() {
  std::string raw = RandomBytes(8);
  uint64_t id = 0;
  for (unsigned char c : raw) id = (id << 8) | c;
  id &= (uint64_t{1} << 53) - 1;
  return id == 0 ? 1 : id;
}

// Replies are a few levels deep; anything deeper is not from qemu-ga and is skipped before
// anything recursive (dump, compare) touches it.
constexpr size_t kMaxReplyDepth = 16;

bool BoolMember(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

std::optional<int> IntMember(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  int64_t v = it->get<int64_t>();
  if (v < -(int64_t{1} << 31) || v > (int64_t{1} << 31) - 1) return std::nullopt;
  return static_cast<int>(v);
}

StatusOr<std::string> DecodeStream(const nlohmann::json& status, const char* key) {
  auto it = status.find(key);
  if (it == status.end()) return std::string();
  if (!it->is_string()) return InvalidArgumentError(std::string(key) + " is not a string");
  auto decoded = Base64Decode(it->get<std::string>());
  if (!decoded.ok()) return decoded.status().WithContext(std::string("decoding ") + key);
  return *decoded;
}

}  // namespace

GuestAgent::GuestAgent(int fd, Interrupt interrupt) : fd_(fd), interrupt_(std::move(interrupt)) {}

GuestAgent::~GuestAgent() {
  if (fd_ >= 0) ::close(fd_);
}

Status GuestAgent::Send(const std::string& bytes, SteadyTime deadline) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (interrupt_) RETURN_IF_ERROR(interrupt_());
      if (Until(deadline).count() == 0)
        return DeadlineExceededError("the guest agent channel did not accept our request in time");
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::min(Until(deadline), kTick).count()));
      continue;
    }
    return UnavailableError(std::string("writing to the guest agent: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status GuestAgent::Fill(milliseconds max_wait) {
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(std::min(max_wait, kTick).count()));
  if (r < 0) {
    if (errno == EINTR) return Status::Ok();
    return UnavailableError(std::string("waiting for the guest agent: ") + std::strerror(errno));
  }
  if (r == 0) return Status::Ok();
  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
  if (n > 0) {
    buf_.append(chunk, static_cast<size_t>(n));
    return Status::Ok();
  }
  if (n == 0) return UnavailableError("the guest agent channel was closed (the VM stopped)");
  if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
  return UnavailableError(std::string("reading from the guest agent: ") + std::strerror(errno));
}

StatusOr<nlohmann::json> GuestAgent::ReadReply(SteadyTime deadline) {
  for (;;) {
    // A 0xFF (the start of a guest-sync-delimited reply) voids everything before it.
    for (;;) {
      size_t ff = buf_.find(kDelimiter);
      size_t nl = buf_.find('\n');
      if (ff != std::string::npos && (nl == std::string::npos || ff < nl)) {
        buf_.erase(0, ff + 1);
        continue;
      }
      if (nl == std::string::npos) break;
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      nlohmann::json reply = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (reply.is_object() && JsonDepth(reply, kMaxReplyDepth) <= kMaxReplyDepth) return reply;
    }
    if (buf_.size() > (64u << 20))  // qemu-ga caps each stream at 16 MiB (base64: ~22 MiB)
      return ResourceExhaustedError("the guest agent sent a reply larger than 64 MiB");
    if (interrupt_) RETURN_IF_ERROR(interrupt_());
    milliseconds left = Until(deadline);
    if (left.count() == 0) return DeadlineExceededError("no reply from the guest agent");
    RETURN_IF_ERROR(Fill(left));
  }
}

Status GuestAgent::Sync(SteadyTime deadline, milliseconds resend_every) {
  uint64_t current = 0;
  SteadyTime next_send = std::chrono::steady_clock::now();
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return DeadlineExceededError("the guest agent did not answer guest-sync");
    if (now >= next_send) {
      current = FreshId();
      nlohmann::json req = {{"execute", "guest-sync-delimited"}, {"arguments", {{"id", current}}}};
      RETURN_IF_ERROR(Send(std::string(1, kDelimiter) + req.dump() + "\n", deadline));
      next_send = now + resend_every;
    }
    auto reply = ReadReply(std::min(next_send, deadline));
    if (!reply.ok()) {
      if (reply.status().code() == StatusCode::kDeadlineExceeded) continue;
      return reply.status();
    }
    // Replies to earlier attempts and the agent's "stray 0xFF" parse errors are stale.
    auto ret = reply->find("return");
    if (ret != reply->end() && ret->is_number_unsigned() && ret->get<uint64_t>() == current)
      return Status::Ok();
  }
}

StatusOr<nlohmann::json> GuestAgent::Execute(const std::string& command,
                                             const nlohmann::json& arguments, SteadyTime deadline) {
  nlohmann::json req = {{"execute", command}};
  if (!arguments.is_null()) req["arguments"] = arguments;
  RETURN_IF_ERROR(Send(req.dump() + "\n", deadline), command);
  for (;;) {
    ASSIGN_OR_RETURN(nlohmann::json reply, ReadReply(deadline));
    if (auto err = reply.find("error"); err != reply.end()) {
      std::string desc = "(no description)";
      if (err->is_object()) {
        auto d = err->find("desc");
        if (d != err->end() && d->is_string()) desc = d->get<std::string>();
      }
      return Status(StatusCode::kUnknown, command + ": the guest agent said: " + desc);
    }
    if (auto ret = reply.find("return"); ret != reply.end()) return *ret;
  }
}

StatusOr<int64_t> GuestAgent::Exec(const GuestCommand& command, SteadyTime deadline) {
  nlohmann::json args = {
      {"path", command.path}, {"arg", command.args}, {"capture-output", command.capture_output}};
  if (!command.env.empty()) args["env"] = command.env;
  ASSIGN_OR_RETURN(nlohmann::json ret, Execute("guest-exec", args, deadline));
  auto pid = ret.find("pid");  // end() for a non-object
  if (pid == ret.end() || !pid->is_number_integer())
    return InvalidArgumentError("guest-exec: reply without a pid: " + ret.dump());
  return pid->get<int64_t>();
}

StatusOr<GuestExecStatus> GuestAgent::ExecStatus(int64_t pid, SteadyTime deadline) {
  ASSIGN_OR_RETURN(nlohmann::json ret, Execute("guest-exec-status", {{"pid", pid}}, deadline));
  if (!ret.is_object()) return InvalidArgumentError("guest-exec-status: not an object");
  GuestExecStatus st;
  auto exited = ret.find("exited");
  if (exited == ret.end() || !exited->is_boolean())
    return InvalidArgumentError("guest-exec-status: no 'exited' member: " + ret.dump());
  st.exited = exited->get<bool>();
  if (!st.exited) return st;
  st.exit_code = IntMember(ret, "exitcode");
  st.signal = IntMember(ret, "signal");
  ASSIGN_OR_RETURN(st.out, DecodeStream(ret, "out-data"));
  ASSIGN_OR_RETURN(st.err, DecodeStream(ret, "err-data"));
  st.out_truncated = BoolMember(ret, "out-truncated");
  st.err_truncated = BoolMember(ret, "err-truncated");
  return st;
}

Status GuestAgent::SendOnly(const std::string& command, const nlohmann::json& arguments) {
  nlohmann::json req = {{"execute", command}};
  if (!arguments.is_null()) req["arguments"] = arguments;
  return Send(req.dump() + "\n", std::chrono::steady_clock::now() + std::chrono::seconds(2));
}

}  // namespace vmrelease::vmvalidate
