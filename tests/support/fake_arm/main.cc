// vmrelease-fake-arm: the fake ARM + Entra + IMDS as a process, for the local
// demo (scripts/up.sh) and manual poking with curl.
//
//   vmrelease-fake-arm --listen 127.0.0.1:0 --port-file /tmp/arm.port
//       --app tenant-1:client-1:secret-value --gallery sub-1/images/releases/westeurope
//       --run-rule 'exit 3=>3:out:err' --fault-rate 0.1
//
// Runs until SIGINT or SIGTERM. GET /_fake/stats shows the counters.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "tests/support/fake_arm/fake_arm.h"

namespace {

std::vector<std::string> SplitOn(const std::string& s, char sep, size_t max_parts) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() + 1 < max_parts) {
    const size_t pos = s.find(sep, start);
    if (pos == std::string::npos) break;
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  out.push_back(s.substr(start));
  return out;
}

int Fail(const std::string& message) {
  std::cerr << "vmrelease-fake-arm: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using vmrelease::fake_arm::FakeArm;
  CLI::App app{"Fake Azure Resource Manager, Entra token endpoint and IMDS for local runs"};
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  int lro_polls = 3;
  int retry_after = 1;
  std::string token_lifetime = "1h";
  double fault_rate = 0;
  bool ignore_if_none_match = false;
  std::string vm_default_security_type = "Standard";
  std::vector<std::string> apps, federated, assertions, galleries, rules, managed, images;
  app.add_option("--listen", listen, "host:port to listen on (port 0 picks a free one)");
  app.add_option("--port-file", port_file, "write the chosen port to this file");
  app.add_option("--lro-polls", lro_polls, "InProgress polls before an operation finishes");
  app.add_option("--retry-after", retry_after, "Retry-After seconds on operation answers");
  app.add_option("--token-lifetime", token_lifetime, "lifetime of issued tokens (Go duration)");
  app.add_option("--fault-rate", fault_rate, "fraction of ARM requests answered 429/500");
  app.add_flag("--ignore-if-none-match", ignore_if_none_match,
               "gallery PUTs ignore If-None-Match (create-or-update), as Azure may");
  app.add_option("--vm-default-security-type", vm_default_security_type,
                 "security type a VM gets when its PUT names none (Standard | TrustedLaunch)");
  app.add_option("--app", apps, "TENANT:CLIENT_ID:SECRET client-secret application");
  app.add_option("--federated", federated, "TENANT:CLIENT_ID accepting federated assertions");
  app.add_option("--accept-assertion", assertions, "an accepted federated assertion");
  app.add_option("--managed-identity", managed,
                 "IMDS identity client id ('system' = system-assigned)");
  app.add_option("--gallery", galleries,
                 "SUBSCRIPTION/RESOURCE_GROUP/GALLERY/LOCATION to pre-create");
  app.add_option(
      "--image-definition", images,
      "SUBSCRIPTION/RESOURCE_GROUP/GALLERY/IMAGE[/OS_TYPE[/SECURITY_TYPE]] to pre-create "
      "(after --gallery)");
  app.add_option("--run-rule", rules, "'CONTAINS=>EXIT[:STDOUT[:STDERR]]' run command outcome");
  CLI11_PARSE(app, argc, argv);

  vmrelease::log::Init(vmrelease::log::Format::kJson, vmrelease::log::Level::kInfo);
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return Fail("--listen must be host:port");
  vmrelease::fake_arm::Options options;
  options.host = listen.substr(0, colon);
  options.port = std::atoi(listen.c_str() + colon + 1);
  options.lro_polls = lro_polls;
  options.retry_after_seconds = retry_after;
  options.ignore_if_none_match = ignore_if_none_match;
  options.vm_default_security_type = vm_default_security_type;
  auto lifetime = vmrelease::ParseDuration(token_lifetime);
  if (!lifetime.ok()) return Fail(lifetime.status().ToString());
  options.token_lifetime = *lifetime;

  // Block the stop signals before threads start so only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto fake = FakeArm::Start(options);
  if (!fake.ok()) return Fail(fake.status().ToString());
  for (const auto& a : apps) {
    auto parts = SplitOn(a, ':', 3);
    if (parts.size() != 3) return Fail("--app wants TENANT:CLIENT_ID:SECRET");
    (*fake)->AddApplication(parts[0], parts[1], parts[2]);
  }
  for (const auto& f : federated) {
    auto parts = SplitOn(f, ':', 2);
    if (parts.size() != 2) return Fail("--federated wants TENANT:CLIENT_ID");
    (*fake)->AddFederatedIdentity(parts[0], parts[1]);
  }
  for (const auto& a : assertions) (*fake)->AcceptAssertion(a);
  for (const auto& m : managed) (*fake)->AddManagedIdentity(m == "system" ? "" : m);
  for (const auto& g : galleries) {
    auto parts = SplitOn(g, '/', 4);
    if (parts.size() != 4)
      return Fail("--gallery wants SUBSCRIPTION/RESOURCE_GROUP/GALLERY/LOCATION");
    (*fake)->AddGallery(parts[0], parts[1], parts[2], parts[3]);
  }
  for (const auto& i : images) {
    auto parts = SplitOn(i, '/', 6);
    if (parts.size() < 4)
      return Fail("--image-definition wants SUBSCRIPTION/RESOURCE_GROUP/GALLERY/IMAGE[/OS[/SEC]]");
    (*fake)->AddImageDefinition(parts[0], parts[1], parts[2], parts[3],
                                parts.size() > 4 ? parts[4] : "Linux",
                                parts.size() > 5 ? parts[5] : "");
  }
  for (const auto& r : rules) {
    const auto arrow = r.find("=>");
    if (arrow == std::string::npos)
      return Fail("--run-rule wants CONTAINS=>EXIT[:STDOUT[:STDERR]]");
    auto outcome = SplitOn(r.substr(arrow + 2), ':', 3);
    vmrelease::fake_arm::RunCommandRule rule{.contains = r.substr(0, arrow),
                                             .exit_code = std::atoi(outcome[0].c_str())};
    if (outcome.size() > 1) rule.stdout_text = outcome[1];
    if (outcome.size() > 2) rule.stderr_text = outcome[2];
    (*fake)->AddRunCommandRule(rule);
  }
  if (fault_rate > 0)
    (*fake)->SetRandomFaults(fault_rate, {vmrelease::fake_arm::FaultKind::kThrottle429,
                                          vmrelease::fake_arm::FaultKind::kServerError500});
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*fake)->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());  // readers never see a half-written file
  }
  vmrelease::log::Info("fake_arm", "listening", {{"url", (*fake)->base_url()}});
  int sig = 0;
  sigwait(&stop, &sig);
  vmrelease::log::Info("fake_arm", "stopping", {{"signal", sig}});
  return 0;
}
