#include "tests/support/azurite/azurite.h"

#include <signal.h>
#include <sys/stat.h>

#include <regex>

#include "controller/http/client.h"
#include "tests/support/testing/certs.h"

namespace vmrelease::testing {
namespace {

std::string Tail(const std::string& text, size_t n = 2000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace

StatusOr<std::unique_ptr<Azurite>> Azurite::Start(Options options) {
  if (options.oauth && !options.https) {
    return InvalidArgumentError("Azurite only accepts bearer tokens over https");
  }
  const std::string tool = ToolPath("azurite-blob");
  struct stat st {};
  if (tool.find('/') != std::string::npos && stat(tool.c_str(), &st) != 0) {
    return NotFoundError("azurite-blob not found at " + tool + " (run ./scripts/setup.sh)");
  }
  std::unique_ptr<Azurite> a(new Azurite());
  a->options_ = options;
  a->dir_ = std::make_unique<TempDir>();
  a->workspace_ = a->dir_->Join("data");
  mkdir(a->workspace_.c_str(), 0700);
  a->log_path_ = a->dir_->Join("azurite.log");
  if (options.https) {
    ASSIGN_OR_RETURN(CertKey ca, GenerateCa("vmrelease-azurite-ca"));
    ASSIGN_OR_RETURN(CertKey cert,
                     IssueCert(ca, "127.0.0.1", {"IP:127.0.0.1", "DNS:localhost"}, true));
    WriteFile(a->dir_->Join("cert.pem"), cert.cert_pem);
    WriteFile(a->dir_->Join("key.pem"), cert.key_pem);
    a->ca_pem_ = ca.cert_pem;
    a->scheme_ = "https";
  }
  RETURN_IF_ERROR(a->Launch());
  return a;
}

Status Azurite::Launch() {
  const std::string tool = ToolPath("azurite-blob");
  std::vector<std::string> argv = {tool,
                                   "--blobHost",
                                   "127.0.0.1",
                                   "--blobPort",
                                   std::to_string(port_),
                                   "--silent",
                                   "--disableTelemetry",
                                   "--skipApiVersionCheck"};
  if (options_.in_memory) {
    argv.push_back("--inMemoryPersistence");
  } else {
    argv.insert(argv.end(), {"--location", workspace_});
  }
  if (options_.https) {
    argv.insert(argv.end(), {"--cert", dir_->Join("cert.pem"), "--key", dir_->Join("key.pem")});
  }
  if (options_.oauth) argv.insert(argv.end(), {"--oauth", "basic"});

  // If the test process dies without running destructors (a sanitizer abort, a
  // crash), Azurite must not outlive it: util-linux setpriv makes the kernel kill
  // it when its parent goes away.
  struct stat setpriv {};
  if (stat("/usr/bin/setpriv", &setpriv) == 0) {
    argv.insert(argv.begin(), {"/usr/bin/setpriv", "--pdeathsig", "KILL", "--"});
  }
  // Only this run's lines of the (appended) log count when looking for the port.
  const size_t log_offset = ReadFile(log_path_).size();
  ASSIGN_OR_RETURN(process_, Subprocess::Start(argv, {}, log_path_));

  // Azurite binds the port asked for (0: any) and prints the address it got.
  const std::regex listening(R"(successfully listens on https?://127\.0\.0\.1:(\d+))");
  bool exited = false;
  const bool announced = WaitFor(
      [&] {
        if (!process_->Running()) {
          exited = true;
          return true;
        }
        std::smatch m;
        const std::string log = ReadFile(log_path_).substr(log_offset);
        if (!std::regex_search(log, m, listening)) return false;
        port_ = std::stoi(m[1]);
        return true;
      },
      std::chrono::seconds(60));
  if (exited || !announced) {
    const std::string why = exited ? "exited during start-up" : "did not start within 60 s";
    return Status(exited ? StatusCode::kUnavailable : StatusCode::kDeadlineExceeded,
                  "azurite " + why + "; log tail:\n" + Tail(ReadFile(log_path_)));
  }

  // Listening is not the same as serving: wait for a real HTTP answer.
  http::Client probe(http::Client::Options{.tls = {.ca_pem = ca_pem_}});
  const bool answers = WaitFor(
      [&] {
        auto r = probe.Send({.method = "GET",
                             .url = account_url() + "?comp=list",
                             .timeout = std::chrono::seconds(5)});
        return r.ok() && r->status > 0;
      },
      std::chrono::seconds(30));
  if (!answers) {
    return DeadlineExceededError("azurite listens on port " + std::to_string(port_) +
                                 " but does not answer; log tail:\n" + Tail(ReadFile(log_path_)));
  }
  return Status::Ok();
}

Status Azurite::Restart() {
  Stop();
  return Launch();
}

Azurite::~Azurite() { Stop(); }

void Azurite::Stop() {
  if (!process_) return;
  if (process_->Running()) {
    // Azurite's graceful close waits out idle keep-alive connections (5 s); a
    // short grace period is enough for a throw-away workspace.
    process_->Signal(SIGTERM);
    if (!process_->Wait(std::chrono::seconds(2)).ok()) {
      process_->Signal(SIGKILL);
      process_->Wait(std::chrono::seconds(10)).status().IgnoreError();
    }
  }
  process_.reset();
}

std::string Azurite::account_url() const {
  return scheme_ + "://127.0.0.1:" + std::to_string(port_) + "/" + kAzuriteAccount;
}

std::string Azurite::connection_string() const {
  return "DefaultEndpointsProtocol=" + scheme_ + ";AccountName=" + kAzuriteAccount +
         ";AccountKey=" + kAzuriteKey + ";BlobEndpoint=" + account_url() + ";";
}

}  // namespace vmrelease::testing
