#include "controller/app/app.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "controller/app/controllers.h"
#include "controller/app/version.h"
#include "controller/app/wiring.h"
#include "controller/common/crypto.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/kube/config.h"
#include "controller/kube/leader_election.h"
#include "controller/kube/rest_client.h"
#include "controller/metrics/server.h"

namespace vmrelease::app {
namespace {

constexpr char kLogger[] = "app";

// Where the process is told to stop, by a signal or by lost leadership.
class Shutdown {
 public:
  void Trigger(int exit_code, const std::string& why) {
    std::lock_guard g(mu_);
    if (triggered_) return;
    triggered_ = true;
    exit_code_ = exit_code;
    log::Info(kLogger, "shutting down", {{"reason", why}});
    cv_.notify_all();
  }
  int Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return triggered_; });
    return exit_code_;
  }
  bool triggered() {
    std::lock_guard g(mu_);
    return triggered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool triggered_ = false;
  int exit_code_ = 0;
};

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // internal: ends the signal thread
  return set;
}

std::string Identity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::snprintf(host, 8, "host");
  return std::string(host) + "_" + RandomHex(12);
}

// The controllers, started once caches are synced and stopped on shutdown or
// when leadership ends. Starting waits on its own thread so the leader
// elector's renew loop is never blocked.
class ControllerSet {
 public:
  ControllerSet(std::vector<kube::Controller*> controllers, std::vector<kube::Informer*> informers)
      : controllers_(std::move(controllers)), informers_(std::move(informers)) {}
  ~ControllerSet() { Stop(); }

  void StartWhenSynced() {
    std::lock_guard g(mu_);
    if (starter_.joinable() || stopping_) return;
    starter_ = std::thread([this] {
      for (kube::Informer* inf : informers_) {
        while (!inf->store().WaitForSync(std::chrono::milliseconds(200))) {
          std::lock_guard g2(mu_);
          if (stopping_) return;
        }
      }
      std::lock_guard g2(mu_);
      if (stopping_) return;
      log::Info(kLogger, "caches synced; starting controllers");
      for (kube::Controller* c : controllers_) c->Start();
      started_ = true;
    });
  }

  // True when every in-flight reconcile finished within its controller's timeout.
  bool Stop() {
    {
      std::lock_guard g(mu_);
      if (stopping_ && !starter_.joinable()) return clean_;
      stopping_ = true;
    }
    if (starter_.joinable()) starter_.join();
    bool clean = true;
    if (started_) {
      for (kube::Controller* c : controllers_) clean = c->Stop() && clean;
    }
    std::lock_guard g(mu_);
    clean_ = clean;
    return clean;
  }

 private:
  std::vector<kube::Controller*> controllers_;
  std::vector<kube::Informer*> informers_;
  std::mutex mu_;
  bool stopping_ = false;
  bool started_ = false;
  bool clean_ = true;
  std::thread starter_;
};

Status ProbeApiServer(kube::RestClient& client) {
  auto version = client.Request("GET", "/version", {}, "", "application/json",
                                kube::RestClient::Retry::kReads, "GET /version");
  if (!version.ok()) return version.status();
  log::Info(kLogger, "connected to the API server",
            {{"server", client.config().server},
             {"gitVersion", version->value("gitVersion", "unknown")}});
  return Status::Ok();
}

int Fail(const std::string& what, const Status& s) {
  log::Error(kLogger, what, {{"error", s.message()}});
  std::cerr << "vmrelease-controller: " << what << ": " << log::Redact(s.message()) << "\n";
  return 1;
}

}  // namespace

int Run(const Options& options) {
  log::Init(options.log_format, options.log_level);
  Shutdown shutdown;
  const sigset_t signals = HandledSignals();
  std::thread signal_thread([&] {
    int received = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGUSR1) return;
      if (++received == 1) {
        shutdown.Trigger(0, sig == SIGINT ? "SIGINT" : "SIGTERM");
      } else {
        log::Warn(kLogger, "second termination signal; exiting now");
        _exit(1);
      }
    }
  });
  auto stop_signal_thread = [&] {
    pthread_kill(signal_thread.native_handle(), SIGUSR1);
    signal_thread.join();
  };

  int code = [&]() -> int {
    auto cfg = kube::LoadDefaultConfig({.path = options.kubeconfig, .context = options.context});
    if (!cfg.ok()) return Fail("unusable Kubernetes configuration", cfg.status());
    const std::string lease_ns =
        options.leader_elect_namespace.empty() ? cfg->ns : options.leader_elect_namespace;
    log::Info(kLogger, "configuration loaded", {{"source", cfg->source}, {"server", cfg->server}});
    auto client = kube::RestClient::FromConfig(*cfg);
    if (!client.ok()) return Fail("unusable Kubernetes configuration", client.status());
    if (Status s = ProbeApiServer(**client); !s.ok())
      return Fail("cannot reach the Kubernetes API server at " + cfg->server, s);

    const std::string identity = Identity();
    metrics::PrometheusMetrics prom;
    auto wiring = Wiring::Create(options, **client, prom);
    if (!wiring.ok()) return Fail("invalid pipeline configuration", wiring.status());
    kube::EventRecorder events(**client, {.reporting_controller = "vmrelease.io/controller",
                                          .reporting_instance = identity});
    const std::vector<ControllerSpec> specs = DefaultControllers();

    // Declaration order is destruction order in reverse: controllers go first,
    // then reconcilers, then the informers they read.
    std::map<std::string, std::unique_ptr<kube::Informer>> owned_informers;
    std::map<std::string, kube::Informer*> informers;
    std::vector<kube::Informer*> informer_list;
    for (const ControllerSpec& spec : specs) {
      auto inf = std::make_unique<kube::Informer>(
          **client, kube::WatcherOptions{.type = spec.type, .ns = options.ns});
      informers[spec.type.Name()] = inf.get();
      informer_list.push_back(inf.get());
      owned_informers[spec.type.Name()] = std::move(inf);
    }
    std::vector<std::unique_ptr<kube::Reconciler>> reconcilers;
    std::vector<std::unique_ptr<kube::Controller>> controllers;
    std::vector<kube::Controller*> controller_list;
    for (const ControllerSpec& spec : specs) {
      kube::Informer& inf = *informers.at(spec.type.Name());
      ControllerDeps deps{**client,         inf.store(), informers, events,
                          RealClock::Get(), spec.name,   spec.type, wiring->get()};
      reconcilers.push_back(spec.make_reconciler(deps));
      kube::ControllerOptions co;
      co.name = spec.name;
      co.workers = options.workers;
      co.store = &inf.store();
      co.metrics = &prom;
      co.shutdown_timeout = options.shutdown_timeout;
      co.resync_period = options.sync_period;
      controllers.push_back(std::make_unique<kube::Controller>(std::move(co), *reconcilers.back()));
      inf.store().AddHandler(controllers.back()->EnqueueHandler());
      controller_list.push_back(controllers.back().get());
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].wire) specs[i].wire(*controllers[i], informers);
      if (specs[i].type == ImageReleaseType()) {
        // A finished upload, download or verification wakes its release at once.
        kube::Controller* releases = controllers[i].get();
        (*wiring)->tasks().SetOnDone([releases](const std::string& task) {
          const std::string key = release::ReleaseKeyOfTask(task);
          if (!key.empty()) releases->Enqueue(kube::ObjectRef::FromKey(key));
        });
      }
    }
    ControllerSet set(controller_list, informer_list);

    // Ready: caches synced and, with --leader-elect, this replica leads. A standby
    // is deliberately not Ready (issue 13): `kubectl get pods` shows which replica
    // works, and only the leader is a Service endpoint. docs/operations.md has what
    // that means for rollouts.
    std::atomic<bool> leading{false};
    auto synced = [&informer_list] {
      for (kube::Informer* inf : informer_list) {
        if (!inf->HasSynced()) return false;
      }
      return true;
    };
    const bool elect = options.leader_elect;
    auto metrics_server = metrics::MetricsServer::Start(
        {.bind_address = options.metrics_bind_address,
         .metrics = &prom,
         .ready = [&, elect] { return synced() && (!elect || leading.load()); },
         .why_not_ready =
             [&, elect] {
               if (!synced()) return std::string("caches not synced");
               return std::string(elect && !leading.load() ? "not the leader (standby)"
                                                           : "not ready");
             }});
    if (!metrics_server.ok()) return Fail("cannot serve metrics", metrics_server.status());
    if (*metrics_server) {
      log::Info(
          kLogger, "serving metrics and probes",
          {{"address", (*metrics_server)->base_url()}, {"paths", "/metrics /healthz /readyz"}});
    }

    // Everything that can fail is set up before the informers start: a return
    // after that would destroy the controllers while watch threads still call
    // their handlers.
    std::unique_ptr<kube::RestClient> lease_client;
    std::unique_ptr<kube::KubeLeaseLock> lock;
    std::unique_ptr<kube::LeaderElector> elector;
    std::thread elector_thread;
    if (options.leader_elect) {
      // Its own client: short timeouts and no internal retries, so a hung request
      // cannot outlast the renew deadline (the elector retries on its own).
      kube::RestClient::Options lo;
      lo.max_read_attempts = 1;
      lo.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::max<Duration>(std::chrono::seconds(1), options.renew_deadline / 2));
      auto lc = kube::RestClient::FromConfig(*cfg, lo);
      if (!lc.ok()) return Fail("leader election client", lc.status());
      lease_client = std::move(*lc);
      lock =
          std::make_unique<kube::KubeLeaseLock>(*lease_client, lease_ns, options.leader_elect_id);
      auto el = kube::LeaderElector::Create({.lock = lock.get(),
                                             .identity = identity,
                                             .lease_duration = options.lease_duration,
                                             .renew_deadline = options.renew_deadline,
                                             .retry_period = options.retry_period,
                                             .release_on_cancel = true,
                                             .on_started_leading =
                                                 [&set, &leading] {
                                                   leading = true;
                                                   set.StartWhenSynced();
                                                 },
                                             .on_stopped_leading =
                                                 [&set, &leading] {
                                                   leading = false;
                                                   set.Stop();
                                                 },
                                             .metrics = &prom,
                                             .name = options.leader_elect_id});
      if (!el.ok()) return Fail("invalid leader election settings", el.status());
      elector = std::move(*el);
    }

    for (kube::Informer* inf : informer_list) inf->Start();
    events.Start();
    log::Info(kLogger, "started",
              {{"identity", identity},
               {"version", Version()},
               {"commit", GitCommit()},
               {"namespace", options.ns.empty() ? "(all)" : options.ns},
               {"workers", options.workers},
               {"leaderElection", options.leader_elect}});
    if (log::RedactionDisabledForTesting())
      log::Warn(kLogger,
                "secret redaction is OFF (VMRELEASE_TESTING_DISABLE_REDACTION=1): for the "
                "secret-leak test's control run only, never in a real deployment");

    if (elector) {
      elector_thread = std::thread([&] {
        elector->Run();
        if (elector->lost()) shutdown.Trigger(1, "leader election lost");
      });
    } else {
      set.StartWhenSynced();
    }

    int exit_code = shutdown.Wait();
    if (elector) {
      elector->Stop();  // stops the controllers, then releases the lease
      elector_thread.join();
    } else {
      set.Stop();
    }
    (*wiring)->tasks().Shutdown();  // before the controllers its callbacks enqueue into go
    for (kube::Informer* inf : informer_list) inf->Stop();
    events.Stop();
    if (*metrics_server) (*metrics_server)->Stop();
    log::Info(kLogger, "stopped", {{"exitCode", exit_code}});
    return exit_code;
  }();
  stop_signal_thread();
  return code;
}

int Main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask and only the
  // signal thread receives these signals (via sigwait).
  const sigset_t signals = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  ParsedFlags flags = ParseFlags(argc, argv);
  if (!flags.options) return flags.exit_code;
  return Run(*flags.options);
}

}  // namespace vmrelease::app
