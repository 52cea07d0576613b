#include "controller/kube/token_source.h"

#include "controller/common/log.h"
#include "controller/common/strings.h"

namespace vmrelease::kube {
namespace {}  // namespace

std::shared_ptr<TokenSource> TokenSource::Static(std::string token) {
  std::shared_ptr<TokenSource> src(new TokenSource());
  src->token_ = Trim(std::move(token));
  log::RegisterSecret(src->token_);
  return src;
}

StatusOr<std::shared_ptr<TokenSource>> TokenSource::FromFile(std::string path, Clock& clock,
                                                             Duration refresh) {
  std::shared_ptr<TokenSource> src(new TokenSource());
  src->path_ = std::move(path);
  src->clock_ = &clock;
  src->refresh_ = refresh;
  std::lock_guard g(src->mu_);
  RETURN_IF_ERROR(src->ReadLocked());
  return src;
}

Status TokenSource::ReadLocked() {
  StatusOr<std::string> content = ReadFileToString(path_);
  if (!content.ok()) return NotFoundError("token file " + path_ + ": cannot be read");
  std::string token = Trim(*content);
  if (token.empty()) return InvalidArgumentError("token file " + path_ + ": is empty");
  log::RegisterSecret(token);
  if (!token_.empty() && token != token_) {
    log::Info("kube.token", "bearer token rotated", {{"file", path_}});
    if (!previous_.empty() && previous_ != token) log::UnregisterSecret(previous_);
    previous_ = std::move(token_);
  }
  token_ = std::move(token);
  next_read_ = clock_->Now() + refresh_;
  return Status::Ok();
}

StatusOr<std::string> TokenSource::Token() {
  std::lock_guard g(mu_);
  if (!path_.empty() && clock_->Now() >= next_read_) {
    Status s = ReadLocked();
    if (!s.ok()) {
      if (token_.empty()) return s;
      // Keep the last good token; retry the read soon rather than every request.
      log::Warn("kube.token", "re-reading token failed; keeping the previous one",
                {{"error", s.message()}});
      next_read_ = clock_->Now() + std::min<Duration>(refresh_, std::chrono::seconds(5));
    }
  }
  return token_;
}

void TokenSource::Invalidate() {
  std::lock_guard g(mu_);
  if (!path_.empty()) next_read_ = TimePoint::min();
}

}  // namespace vmrelease::kube
