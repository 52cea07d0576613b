// TokenSource: the bearer token for API requests, static or read from a file
// that someone else rotates (the kubelet's projected service-account token, a
// kubeconfig `tokenFile`).
//
//   ASSIGN_OR_RETURN(auto src, TokenSource::FromFile(path, clock, std::chrono::minutes(1)));
//   ASSIGN_OR_RETURN(std::string token, src->Token());
//   ... on a 401: src->Invalidate(); then Token() again ...
//
// Guarantees: a file token is re-read at most once per `refresh` interval (and
// at once after Invalidate()), so a rotated token is picked up without a
// restart. If a re-read fails (file briefly missing during rotation) the last
// good token is kept and the failure is logged. Every token value is registered
// with log::RegisterSecret. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace vmrelease::kube {

class TokenSource {
 public:
  static std::shared_ptr<TokenSource> Static(std::string token);
  // Reads the file now; fails (naming the file) when it is missing or empty.
  static StatusOr<std::shared_ptr<TokenSource>> FromFile(std::string path, Clock& clock,
                                                         Duration refresh);

  StatusOr<std::string> Token();
  // Forces a re-read on the next Token() (call after a 401).
  void Invalidate();
  // True when the token can change (file-backed).
  bool rotates() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  TokenSource() = default;
  Status ReadLocked();

  std::string path_;
  Clock* clock_ = nullptr;
  Duration refresh_{};
  std::mutex mu_;
  std::string token_;
  // The token before token_: requests may still carry it, so it stays redacted
  // until the next rotation (the registry must not grow with every rotation).
  std::string previous_;
  TimePoint next_read_{};
};

}  // namespace vmrelease::kube
