// GuestAgent against a fake qemu-ga on a socketpair: the fake answers like qemu-ga 7.2 does
// (measured, see /work/shared/reference/qemu/guest-agent.md): requests written before it
// "boots" are queued and answered in order, each 0xFF earns a "stray" parse error, replies are
// one JSON object per line, guest-sync-delimited replies start with 0xFF.
#include "tools/vm-validate/guest_agent.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/crypto.h"

namespace vmrelease::vmvalidate {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

SteadyTime In(milliseconds d) { return std::chrono::steady_clock::now() + d; }

// Answers requests on one end of a socketpair. `handler` returns the reply line(s) for a
// request (without the trailing newline); sync requests are answered by the fake itself.
class FakeAgent {
 public:
  using Handler = std::function<std::vector<std::string>(const json& request)>;

  FakeAgent(milliseconds boot_delay, Handler handler) : handler_(std::move(handler)) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_fd_ = fds[0];
    fd_ = fds[1];
    thread_ = std::thread([this, boot_delay] { Run(boot_delay); });
  }
  ~FakeAgent() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  // The host end; ownership goes to the GuestAgent under test.
  int TakeClientFd() { return std::exchange(client_fd_, -1); }
  std::vector<json> Requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  void CloseNow() { ::shutdown(fd_, SHUT_RDWR); }

 private:
  void Reply(const std::string& line) {
    std::string out = line + "\n";
    (void)!::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
  }

  void Run(milliseconds boot_delay) {
    // Requests pile up in the socket meanwhile.
    const auto booted = std::chrono::steady_clock::now() + boot_delay;
    while (!stop_ && std::chrono::steady_clock::now() < booted)
      std::this_thread::sleep_for(milliseconds(10));
    std::string buf;
    char chunk[4096];
    while (!stop_) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buf.append(chunk, static_cast<size_t>(n));
      for (;;) {
        if (!buf.empty() && buf[0] == '\xff') {
          buf.erase(0, 1);
          Reply(
              R"({"error": {"class": "GenericError", "desc": "JSON parse error, stray '\uFFFD'"}})");
          continue;
        }
        size_t nl = buf.find('\n');
        if (nl == std::string::npos) break;
        json req = json::parse(buf.substr(0, nl), nullptr, false);
        buf.erase(0, nl + 1);
        {
          std::lock_guard<std::mutex> l(mu_);
          requests_.push_back(req);
        }
        if (req.value("execute", "") == "guest-sync-delimited") {
          Reply("\xff" + json{{"return", req["arguments"]["id"]}}.dump());
          continue;
        }
        for (const auto& line : handler_(req)) Reply(line);
      }
    }
  }

  Handler handler_;
  int fd_ = -1;
  int client_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<json> requests_;
};

std::vector<std::string> Pong(const json& req) {
  if (req.value("execute", "") == "guest-ping") return {R"({"return": {}})"};
  return {R"({"error": {"class": "CommandNotFound", "desc": "unknown"}})"};
}

TEST(GuestAgentTest, SyncDuringBootWaitsForTheLatestIdAndSkipsStaleReplies) {
  // The agent "boots" after 700 ms; we resend every 150 ms, so ~5 syncs queue up and are all
  // answered at once. Only the last id counts; after it, the next reply is the ping's.
  FakeAgent fake(milliseconds(700), Pong);
  GuestAgent agent(fake.TakeClientFd(), nullptr);
  ASSERT_TRUE(agent.Sync(In(seconds(10)), milliseconds(150)).ok());
  auto requests = fake.Requests();
  ASSERT_GE(requests.size(), 3u);
  std::vector<uint64_t> ids;
  for (const auto& r : requests) ids.push_back(r["arguments"]["id"].get<uint64_t>());
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_NE(ids[i], ids[i - 1]) << "ids must be fresh";

  auto pong = agent.Execute("guest-ping", nullptr, In(seconds(5)));
  ASSERT_TRUE(pong.ok()) << pong.status().ToString();
  EXPECT_EQ(*pong, json::object());
}

TEST(GuestAgentTest, SyncTimesOutWhenTheAgentNeverAnswers) {
  FakeAgent fake(seconds(30), Pong);  // never boots within the test
  GuestAgent agent(fake.TakeClientFd(), nullptr);
  auto start = std::chrono::steady_clock::now();
  Status s = agent.Sync(In(milliseconds(400)), milliseconds(100));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  fake.CloseNow();
}

TEST(GuestAgentTest, InterruptAbortsTheWait) {
  FakeAgent fake(seconds(30), Pong);
  std::atomic<int> calls{0};
  GuestAgent agent(fake.TakeClientFd(), [&]() -> Status {
    return ++calls >= 3 ? UnavailableError("qemu exited with status 0") : Status::Ok();
  });
  Status s = agent.Sync(In(seconds(20)));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "qemu exited with status 0");
  fake.CloseNow();
}

TEST(GuestAgentTest, ExecAndStatusDecodeOutputExitCodeAndSignal) {
  FakeAgent fake(milliseconds(0), [](const json& req) -> std::vector<std::string> {
    const std::string cmd = req.value("execute", "");
    if (cmd == "guest-exec") {
      const json& a = req["arguments"];
      EXPECT_EQ(a["path"], "/bin/sh");
      EXPECT_EQ(a["arg"], json({"-c", "exit 3"}));
      EXPECT_EQ(a["env"], json({"PATH=/bin", "VMRELEASE_CHECK_NAME=c1"}));
      EXPECT_EQ(a["capture-output"], true);  // qemu 7.2 takes a boolean only
      return {R"({"return": {"pid": 151}})"};
    }
    if (cmd == "guest-exec-status") {
      int64_t pid = req["arguments"]["pid"];
      if (pid == 151)
        return {json{{"return",
                      {{"exitcode", 3},
                       {"out-data", Base64Encode("out-bar\n")},
                       {"err-data", Base64Encode("err\n")},
                       {"out-truncated", false},
                       {"err-truncated", true},
                       {"exited", true}}}}
                    .dump()};
      if (pid == 152) return {R"({"return": {"signal": 9, "exited": true}})"};
      if (pid == 153) return {R"({"return": {"exited": false}})"};
      return {R"({"error": {"class": "GenericError", "desc": "Invalid parameter 'pid'"}})"};
    }
    return {};
  });
  GuestAgent agent(fake.TakeClientFd(), nullptr);
  ASSERT_TRUE(agent.Sync(In(seconds(5))).ok());
  auto pid = agent.Exec({.path = "/bin/sh",
                         .args = {"-c", "exit 3"},
                         .env = {"PATH=/bin", "VMRELEASE_CHECK_NAME=c1"}},
                        In(seconds(5)));
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  EXPECT_EQ(*pid, 151);

  auto st = agent.ExecStatus(151, In(seconds(5)));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_TRUE(st->exited);
  EXPECT_EQ(st->exit_code, 3);
  EXPECT_FALSE(st->signal.has_value());
  EXPECT_EQ(st->out, "out-bar\n");
  EXPECT_EQ(st->err, "err\n");
  EXPECT_FALSE(st->out_truncated);
  EXPECT_TRUE(st->err_truncated);

  auto killed = agent.ExecStatus(152, In(seconds(5)));
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->signal, 9);
  EXPECT_FALSE(killed->exit_code.has_value());

  auto running = agent.ExecStatus(153, In(seconds(5)));
  ASSERT_TRUE(running.ok());
  EXPECT_FALSE(running->exited);

  // Asking again after the exit was collected: qemu-ga has forgotten the pid.
  auto gone = agent.ExecStatus(999, In(seconds(5)));
  EXPECT_EQ(gone.status().code(), StatusCode::kUnknown);
  EXPECT_NE(gone.status().message().find("Invalid parameter 'pid'"), std::string::npos);
}

TEST(GuestAgentTest, SkipsLinesThatAreNotRepliesAndDropsHalfRepliesBeforeADelimiter) {
  FakeAgent fake(milliseconds(0), [](const json&) -> std::vector<std::string> {
    std::string deep(100, '[');
    deep += std::string(100, ']');
    // The last line: half a reply, then a delimiter and a whole one, on one line.
    return {"not json", "[1, 2]", "{\"nested\": " + deep + "}",
            "{\"return\": {\"half\xff{\"return\": 42}"};
  });
  GuestAgent agent(fake.TakeClientFd(), nullptr);
  auto r = agent.Execute("anything", nullptr, In(seconds(5)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 42);
}

TEST(GuestAgentTest, AClosedChannelIsUnavailable) {
  FakeAgent fake(milliseconds(0), [](const json&) -> std::vector<std::string> { return {}; });
  GuestAgent agent(fake.TakeClientFd(), nullptr);
  fake.CloseNow();
  auto r = agent.Execute("guest-ping", nullptr, In(seconds(5)));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(GuestAgentTest, MalformedExecRepliesAreErrorsNotCrashes) {
  FakeAgent fake(milliseconds(0), [](const json& req) -> std::vector<std::string> {
    if (req.value("execute", "") == "guest-exec") return {R"({"return": {"pid": "x"}})"};
    return {R"({"return": {"exited": true, "exitcode": 0, "out-data": "!!notbase64"}})"};
  });
  GuestAgent agent(fake.TakeClientFd(), nullptr);
  auto pid = agent.Exec({.path = "/bin/true"}, In(seconds(5)));
  EXPECT_EQ(pid.status().code(), StatusCode::kInvalidArgument);
  auto st = agent.ExecStatus(1, In(seconds(5)));
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace vmrelease::vmvalidate
