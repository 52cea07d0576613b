// vmrelease-apiserver: the local, in-memory Kubernetes API server used by the
// tests and by ./scripts/up.sh. Never production. See docs/local-apiserver.md.
//
//   vmrelease-apiserver --listen 127.0.0.1:0 --kubeconfig-out /tmp/kc --crds crds/
//   KUBECONFIG=/tmp/kc kubectl get ns
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "tests/support/apiserver/server.h"

namespace {

using vmrelease::apiserver::ApiServer;

bool WriteAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << content;
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::permissions(
      tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

// A real API server accepts objects nested up to Go's JSON limit (10,000 levels)
// and handles them on goroutine stacks that grow to 1 GiB. Copying, comparing
// and serialising such an object recurses once per level here, so every thread
// this process starts gets a stack that holds it (address space only; pages
// are committed as they are touched).
constexpr size_t kThreadStackBytes = size_t{256} << 20;

void UseDeepThreadStacks() {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return;
  if (pthread_attr_setstacksize(&attr, kThreadStackBytes) == 0) pthread_setattr_default_np(&attr);
  pthread_attr_destroy(&attr);
}

int Fail(const std::string& msg) {
  std::cerr << "vmrelease-apiserver: " << msg << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  UseDeepThreadStacks();  // before any thread starts
  CLI::App app{"Local in-memory Kubernetes API server for vmrelease tests and demos"};
  std::string listen = "127.0.0.1:0";
  std::string kubeconfig_out, crds, token, auth = "token", bookmark = "5s", latency = "0",
                                           drop_every = "0", fail_codes = "500",
                                           log_format = "json";
  size_t history = 10000;
  double fail_rate = 0;
  app.add_option("--listen", listen, "host:port to listen on (port 0 picks a free one)");
  app.add_option("--kubeconfig-out", kubeconfig_out, "write a kubeconfig here once serving");
  app.add_option("--crds", crds, "preload every CRD YAML in this directory");
  app.add_option("--token", token, "bearer token (default: random)");
  app.add_option("--auth", auth, "token | client-cert")
      ->check(CLI::IsMember({"token", "client-cert"}));
  app.add_option("--history-size", history, "watch history window in events");
  app.add_option("--bookmark-interval", bookmark, "interval between watch BOOKMARK events");
  app.add_option("--fail-rate", fail_rate, "fraction of /api requests failed with --fail-codes");
  app.add_option("--fail-codes", fail_codes, "comma-separated HTTP codes for --fail-rate");
  app.add_option("--latency", latency, "added to every /api request (Go duration)");
  app.add_option("--drop-watches-every", drop_every, "close all watch streams periodically");
  app.add_option("--log-format", log_format, "json | text");
  CLI11_PARSE(app, argc, argv);

  vmrelease::log::Format fmt = vmrelease::log::Format::kJson;
  vmrelease::log::ParseFormat(log_format, &fmt);
  vmrelease::log::Init(fmt, vmrelease::log::Level::kInfo);

  ApiServer::Options o;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return Fail("--listen must be host:port");
  o.listen_host = listen.substr(0, colon);
  try {
    o.listen_port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return Fail("--listen must be host:port");
  }
  o.crds_dir = crds;
  o.token = token;
  o.client_cert_auth = auth == "client-cert";
  o.history_size = history;
  auto b = vmrelease::ParseDuration(bookmark);
  if (!b.ok()) return Fail("--bookmark-interval: " + b.status().message());
  o.bookmark_interval = std::chrono::duration_cast<std::chrono::milliseconds>(*b);
  auto l = vmrelease::ParseDuration(latency);
  if (!l.ok()) return Fail("--latency: " + l.status().message());
  auto d = vmrelease::ParseDuration(drop_every);
  if (!d.ok()) return Fail("--drop-watches-every: " + d.status().message());
  o.faults.fail_rate = fail_rate;
  o.faults.latency_ms =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(*l).count());
  o.faults.drop_watches_every_ms =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(*d).count());
  o.faults.fail_codes.clear();
  std::stringstream ss(fail_codes);
  for (std::string c; std::getline(ss, c, ',');) {
    try {
      o.faults.fail_codes.push_back(std::stoi(c));
    } catch (const std::exception&) {
      return Fail("--fail-codes: not a number: " + c);
    }
  }

  // Block the signals before any thread starts so sigwait() below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = ApiServer::Start(o);
  if (!server.ok()) return Fail(server.status().ToString());
  if (!kubeconfig_out.empty() && !WriteAtomically(kubeconfig_out, (*server)->Kubeconfig()))
    return Fail("cannot write " + kubeconfig_out);
  std::cout << "vmrelease-apiserver serving on " << (*server)->base_url() << std::endl;

  int sig = 0;
  sigwait(&set, &sig);
  vmrelease::log::Info("apiserver", "shutting down", {{"signal", sig}});
  (*server)->Stop();
  return 0;
}
