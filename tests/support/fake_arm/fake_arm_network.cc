// Fake Microsoft.Network network interfaces: a synchronous PUT (201 with
// provisioningState Succeeded, as in NetworkInterfaceCreate.json) and a DELETE
// answered 202 + Location (NetworkInterfaceDelete.json). A NIC attached to a
// VM cannot be deleted (NicInUse), as in Azure.
#include "tests/support/fake_arm/fake_arm_state.h"

namespace vmrelease::fake_arm {
namespace {

constexpr const char* kNetworkApi = "2025-07-01";
constexpr const char* kNicType = "Microsoft.Network/networkInterfaces";

}  // namespace

Reply HandleNetwork(FakeArm::State& s, const http::ServerRequest& req, const ArmPath& p) {
  auto api = req.params.find("api-version");
  if (api == req.params.end() || api->second != kNetworkApi)
    return ErrorReply(400, "InvalidApiVersionParameter",
                      "The api-version '" + (api == req.params.end() ? "" : api->second) +
                          "' is invalid. The supported versions are '" + kNetworkApi + "'.");
  if (p.segments.size() != 1 || Lower(p.segments[0].first) != "networkinterfaces")
    return ErrorReply(400, "InvalidResourceType", "The fake does not serve " + p.Type() + ".");
  const std::string key = Lower(p.Id());
  auto it = s.resources.find(key);
  if (req.method == "GET") {
    StoredResource* found = s.FindObserved(key);
    if (found == nullptr) return NotFound(p);
    return Reply{.status = 200, .body = found->body};
  }
  if (req.method == "DELETE") {
    if (it == s.resources.end()) return Reply{.status = 204};
    const std::string vm =
        it->second.body.value(nlohmann::json::json_pointer("/properties/virtualMachine/id"), "");
    if (!vm.empty())
      return ErrorReply(400, "NicInUse",
                        "Network Interface " + it->second.id + " is used by existing resource " +
                            vm +
                            ". In order to delete the network interface, it must be "
                            "dissociated from the resource.");
    const std::string op = s.StartOp("DELETE", key, p, it->second.body.value("location", ""));
    Reply r{.status = 202};
    s.AddPollingHeaders(s.ops[op], false, true, r);
    return r;
  }
  if (req.method != "PUT") return ErrorReply(405, "MethodNotAllowed", "Not supported by the fake.");
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::exception&) {
    return ErrorReply(400, "InvalidRequestFormat", "Cannot parse the request.");
  }
  const nlohmann::json configs = request.value(
      nlohmann::json::json_pointer("/properties/ipConfigurations"), nlohmann::json::array());
  if (configs.empty() ||
      configs[0].value(nlohmann::json::json_pointer("/properties/subnet/id"), "").empty())
    return ErrorReply(
        400, "InvalidRequestFormat",
        "Network interface " + p.Name() + " needs an IP configuration with a subnet.");
  // Read-only parts come from the example (dnsSettings, addresses, ids, states).
  const nlohmann::json example = ExampleBody("NetworkInterfaceCreate.json");
  const nlohmann::json example_ip = example["properties"]["ipConfigurations"][0];
  nlohmann::json body = request;
  body["id"] = p.Id();
  body["name"] = p.Name();
  body["type"] = kNicType;
  CopyMissing(body, example,
              {"/properties/dnsSettings", "/properties/enableIPForwarding",
               "/properties/vnetEncryptionSupported"});
  int n = 0;
  for (auto& ip : body["properties"]["ipConfigurations"]) {
    ip["id"] = p.Id() + "/ipConfigurations/" + ip.value("name", "ipconfig" + std::to_string(n + 1));
    for (const char* f : {"privateIPAddressVersion", "privateIPAllocationMethod"})
      if (!ip["properties"].contains(f)) ip["properties"][f] = example_ip["properties"][f];
    ip["properties"]["privateIPAddress"] = "10.0.0." + std::to_string(4 + n);
    ip["properties"]["primary"] = n == 0;
    ip["properties"]["provisioningState"] = "Succeeded";
    ++n;
  }
  body["properties"]["provisioningState"] = "Succeeded";
  const bool update = it != s.resources.end();
  if (update && it->second.body["properties"].contains("virtualMachine"))
    body["properties"]["virtualMachine"] = it->second.body["properties"]["virtualMachine"];
  s.resources[key] = StoredResource{.id = p.Id(), .type = kNicType, .body = body};
  return Reply{.status = update ? 200 : 201, .body = body};
}

void FinishNetworkOp(FakeArm::State& s, PendingOp& op) {
  auto it = s.resources.find(op.resource_key);
  if (it == s.resources.end()) return;
  if (op.status != "Succeeded") {
    it->second.body["properties"]["provisioningState"] = "Failed";
    return;
  }
  if (op.method == "DELETE") s.resources.erase(it);
}

}  // namespace vmrelease::fake_arm
