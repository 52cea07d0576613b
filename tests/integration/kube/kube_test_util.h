// Shared helpers for the runtime's integration tests against the local API server.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "controller/kube/config.h"
#include "controller/kube/rest_client.h"
#include "tests/support/apiserver/fixture.h"
#include "tests/support/testing/process.h"

namespace vmrelease::kube::itest {

inline const ResourceType kGadgets{"test.vmrelease.io", "v1", "gadgets", "Gadget", true};

inline std::string CrdDir() {
  return ::vmrelease::testing::SourceDir() + "/tests/integration/kube/testdata/crds";
}

// Starts the local API server with the Gadget CRD (plus `extra_args`).
inline std::unique_ptr<::vmrelease::testing::LocalApiServer> StartServer(
    std::vector<std::string> extra_args = {}) {
  auto server = ::vmrelease::testing::LocalApiServer::Start(
      {.crds_dir = CrdDir(), .extra_args = std::move(extra_args)});
  if (!server.ok()) {
    ADD_FAILURE() << "starting the local API server: " << server.status().ToString();
    return nullptr;
  }
  return std::move(*server);
}

// A RestClient configured from the server's kubeconfig, as the controller does it.
inline std::unique_ptr<RestClient> ClientFor(const ::vmrelease::testing::LocalApiServer& server,
                                             RestClient::Options options = {}) {
  auto cfg = LoadKubeconfig({.path = server.kubeconfig()});
  if (!cfg.ok()) {
    ADD_FAILURE() << cfg.status().ToString();
    return nullptr;
  }
  auto client = RestClient::FromConfig(std::move(*cfg), std::move(options));
  if (!client.ok()) {
    ADD_FAILURE() << client.status().ToString();
    return nullptr;
  }
  return std::move(*client);
}

inline Json Gadget(const std::string& ns, const std::string& name, Json spec = Json::object()) {
  return {{"apiVersion", "test.vmrelease.io/v1"},
          {"kind", "Gadget"},
          {"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", std::move(spec)}};
}

}  // namespace vmrelease::kube::itest
