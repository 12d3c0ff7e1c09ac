#include "actors/tracker_front.hpp"

#include <mutex>
#include <utility>

#include "actors/error.hpp"
#include "actors/tracker_ops.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::actors {

namespace {

// Beyond this many tokens the cache starts afresh (a flood of distinct tokens cannot grow it).
constexpr size_t max_cached_tokens = 100000;

}  // namespace

tracker_front::tracker_front(const tracker_init& init)
    : svc_(std::make_shared<detail::tracker_services>()) {
  svc_->elements = init.elements;
  svc_->users = init.users;
  svc_->settings = init.settings;
  svc_->anonymous = storage::user_class_from_string(init.settings.anonymous_class);
}

tracker_front::~tracker_front() = default;

caf::expected<tracker_front::principal_ptr> tracker_front::authenticate(const std::string& token,
                                                                       bool bad_credentials) {
  auto& s = *svc_;
  if (bad_credentials)
    return make_error(actors_errc::unauthenticated,
                      "the Authorization header must be: Bearer <token>");
  if (token.empty()) {
    if (!s.anonymous) return make_error(actors_errc::unauthenticated, "authentication required");
    auto p = std::make_shared<detail::principal>();
    p->name = "anonymous";
    p->cls = *s.anonymous;
    p->anonymous = true;
    return principal_ptr{std::move(p)};
  }
  auto now = std::chrono::steady_clock::now();
  uint64_t generation = 0;
  {
    std::shared_lock<std::shared_mutex> lock{mtx_};
    generation = generation_;
    if (user_changes_ == 0) {
      auto i = cache_.find(token);
      if (i != cache_.end() && now - i->second.at < s.settings.token_cache_ttl) {
        cache_hits_.fetch_add(1, std::memory_order_relaxed);
        return i->second.who;
      }
    }
  }
  auto user = s.users->verify_token(token, storage::epoch_ms());
  if (!user) {
    if (storage::is(user.error(), storage::storage_errc::not_found) ||
        storage::is(user.error(), storage::storage_errc::invalid_argument))
      return make_error(actors_errc::unauthenticated, "invalid, expired or revoked token");
    return std::move(user.error());
  }
  auto made = std::make_shared<detail::principal>();
  made->name = user->username;
  made->cls = user->cls;
  made->element_json = std::move(user->element_json);
  made->token_expires_ms = user->token_expires_ms;
  principal_ptr p = std::move(made);
  std::unique_lock<std::shared_mutex> lock{mtx_};
  // Nothing was forgotten since the user store was asked, and no user change runs: what it
  // answered is still true.
  if (user_changes_ == 0 && generation == generation_) {
    if (cache_.size() >= max_cached_tokens) cache_.clear();
    cache_.insert_or_assign(token, entry{p, now});
  }
  return p;
}

void tracker_front::forget(const std::string& token) {
  std::unique_lock<std::shared_mutex> lock{mtx_};
  cache_.erase(token);
  ++generation_;
}

void tracker_front::user_change_started() {
  std::unique_lock<std::shared_mutex> lock{mtx_};
  ++user_changes_;
  cache_.clear();
  ++generation_;
}

void tracker_front::user_change_ended() {
  std::unique_lock<std::shared_mutex> lock{mtx_};
  --user_changes_;
  // Tokens verified while the change ran may have seen the old state.
  cache_.clear();
  ++generation_;
}

std::optional<api_answer> class_refusal(api_op op, const detail::principal& who) {
  if (static_cast<uint8_t>(who.cls) >= required_class(op)) return std::nullopt;
  return refuse(actors_errc::forbidden,
                std::string{to_string(op)} + " needs the class " +
                    storage::to_string(static_cast<storage::user_class>(required_class(op))));
}

std::optional<api_answer> tracker_front::point_read(const tracker_command& cmd) {
  if (cmd.op != api_op::read || !cmd.ids_in_path || cmd.path_ids.size() != 1 || !cmd.body.empty())
    return std::nullopt;
  point_reads_.fetch_add(1, std::memory_order_relaxed);
  auto a = [&]() -> api_answer {
    auto who = authenticate(cmd.token, cmd.bad_credentials);
    if (!who) return answer_error(std::move(who.error()));
    if (auto refused = class_refusal(cmd.op, **who)) return std::move(*refused);
    return detail::run_tracker_op(*svc_, cmd, **who);
  }();
  if (a.error) (caller_error(a.error) ? refused_ : failed_).fetch_add(1, std::memory_order_relaxed);
  return a;
}

tracker_front::counters tracker_front::read_counters() const {
  counters out;
  out.point_reads = point_reads_.load(std::memory_order_relaxed);
  out.refused = refused_.load(std::memory_order_relaxed);
  out.failed = failed_.load(std::memory_order_relaxed);
  out.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  std::shared_lock<std::shared_mutex> lock{mtx_};
  out.cached = cache_.size();
  return out;
}

}  // namespace syncline::actors
