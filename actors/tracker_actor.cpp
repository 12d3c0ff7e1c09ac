// actors/tracker_actor.cpp: the tracker actor: authenticates each command (the token cache of
// actors/tracker_front.hpp, shared with the threads that answer point reads), answers verify and
// signOut, and runs the operations of actors/tracker_ops.hpp inline (point
// reads, small writes) or on the I/O pool (scans, argon2id, user changes, big bodies).
#include "actors/tracker_actor.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/io_pool.hpp"
#include "actors/tracker_front.hpp"
#include "actors/tracker_json.hpp"
#include "actors/tracker_ops.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::actors {

namespace {

using detail::principal;
using detail::tracker_services;
using storage::user_class;

}  // namespace

struct tracker_state {
  static const char* name;
  // The token cache and the services, shared with the threads answering point reads.
  std::shared_ptr<tracker_front> front;
  // Shared with the pool jobs in flight, which may outlive the actor by a little.
  std::shared_ptr<tracker_services> svc;
  io_pool* pool = nullptr;
  io_pool* password_pool = nullptr;
  sign_in_limiter limiter;
  size_t in_pool = 0;
  uint64_t requests = 0;
  uint64_t refused = 0;
  uint64_t failed = 0;
  // Followers of the change feed waiting for a change after their cursor, each until its time.
  struct feed_waiter {
    tracker_command cmd;
    std::chrono::steady_clock::time_point until;
  };
  std::vector<feed_waiter> feed_waiters;
  // Set by a write while a wake-up is on its way, so a burst of writes sends one.
  std::shared_ptr<std::atomic<bool>> feed_wake = std::make_shared<std::atomic<bool>>(false);

  void count(const api_answer& a) {
    if (!a.error) return;
    if (caller_error(a.error))
      ++refused;
    else
      ++failed;
  }
};

const char* tracker_state::name = "tracker";

namespace {

void answer(tracker_state& st, const tracker_command& cmd, api_answer a) {
  st.count(a);
  if (cmd.respond) cmd.respond(std::move(a));
}

}  // namespace

uint8_t required_class(api_op op) noexcept {
  switch (op) {
    case api_op::read:
    case api_op::search:
    case api_op::search_one:
    case api_op::search_mongo:
    case api_op::graph:
    case api_op::graph_backwards:
    case api_op::graph_forwards:
    case api_op::verify:
    case api_op::sign_in:
    case api_op::sign_out:
    case api_op::create_token:
    case api_op::changes:
      return static_cast<uint8_t>(user_class::guest);
    case api_op::create:
    case api_op::lock:
    case api_op::unlock:
    case api_op::publish:
    case api_op::version:
    case api_op::comment:
      return static_cast<uint8_t>(user_class::user);
    case api_op::update:
    case api_op::upsert:
    case api_op::remove:
    case api_op::sync_state:
      return static_cast<uint8_t>(user_class::editor);
  }
  return static_cast<uint8_t>(user_class::admin);
}

namespace {

using self_ptr = tracker_actor::stateful_pointer<tracker_state>;

// Runs `cmd` for `who` on the I/O pool, or refuses it when the pool is too far behind.
// `users`: the command may change users or tokens, so no token is cached while it runs.
void run_on_pool(self_ptr self, tracker_command cmd, tracker_front::principal_ptr who,
                 bool users) {
  auto& s = self->state;
  if (s.pool->queued() >= s.svc->settings.max_queued_jobs)
    return answer(s, cmd, refuse(actors_errc::busy, "the node is busy; retry"));
  ++s.in_pool;
  // User changes running on the pool: while any is, tokens are verified against the database
  // every time and nothing is cached, so a revocation counts from the moment it is written.
  if (users) s.front->user_change_started();
  auto shared = std::make_shared<tracker_command>(std::move(cmd));
  run_io(
      self, *s.pool,
      [svc = s.svc, shared, who]() {
        auto a = detail::run_tracker_op(*svc, *shared, *who);
        bool refused = a.error && caller_error(a.error);
        bool failed = a.error && !refused;
        if (shared->respond) shared->respond(std::move(a));
        return std::make_pair(refused, failed);
      },
      [self, users](std::pair<bool, bool> outcome) {
        auto& state = self->state;
        --state.in_pool;
        state.refused += outcome.first;
        state.failed += outcome.second;
        if (users) state.front->user_change_ended();
      });
}

// A sign-in: refused while its (user, address) or its address has no attempt left, else run
// on the password pool; a success gives its attempt back.
void sign_in(self_ptr self, tracker_command cmd) {
  auto& s = self->state;
  auto form = parse_credentials(cmd.body, cmd.form_body);
  std::string user = form ? form->username : std::string{};
  auto now = std::chrono::steady_clock::now();
  if (auto wait = s.limiter.admit(user, cmd.remote, now)) {
    auto a = refuse(actors_errc::too_many_requests,
                    "too many sign-in attempts from this address" +
                        std::string{user.empty() ? "" : " for this user"} + "; retry in " +
                        std::to_string(*wait) + " s");
    a.retry_after_s = *wait;
    spdlog::debug("tracker: sign-in of '{}' from {} refused: too many attempts", user, cmd.remote);
    return answer(s, cmd, std::move(a));
  }
  if (s.password_pool->queued() >= s.svc->settings.max_queued_sign_ins) {
    auto a = refuse(actors_errc::busy, "too many sign-ins are waiting; retry");
    a.retry_after_s = 1;
    return answer(s, cmd, std::move(a));
  }
  ++s.in_pool;
  auto shared = std::make_shared<tracker_command>(std::move(cmd));
  run_io(
      self, *s.password_pool,
      [svc = s.svc, shared]() {
        auto a = detail::run_tracker_op(*svc, *shared, principal{});
        bool ok = !a.error;
        bool refused = a.error && caller_error(a.error);
        if (shared->respond) shared->respond(std::move(a));
        return std::make_pair(ok, refused);
      },
      [self, user, remote = shared->remote](std::pair<bool, bool> outcome) {
        auto& state = self->state;
        --state.in_pool;
        if (outcome.first)
          state.limiter.succeeded(user, remote, std::chrono::steady_clock::now());
        else if (outcome.second)
          ++state.refused;
        else
          ++state.failed;
      });
}

// Followers waiting at once; more get 503 (each holds a connection for up to five minutes).
constexpr size_t max_feed_waiters = 1024;

// The page of the change feed after `cmd.since`, or nullopt when there is none yet.
std::optional<api_answer> feed_page(tracker_state& s, const tracker_command& cmd) {
  auto page = s.svc->elements->changes(cmd.since, cmd.limit);
  if (!page) return answer_error(std::move(page.error()));
  if (page->changes.empty() && !page->reset) return std::nullopt;
  return answer_json(answer_kind::done, changes_json(*page));
}

// Answers the followers that have something to read, and those whose wait is over.
void serve_feed_waiters(tracker_state& s, bool expire_only) {
  auto now = std::chrono::steady_clock::now();
  auto& ws = s.feed_waiters;
  for (size_t i = 0; i < ws.size();) {
    std::optional<api_answer> a;
    if (!expire_only) a = feed_page(s, ws[i].cmd);
    if (!a && now >= ws[i].until) {
      storage::change_page none;
      none.last_seq = ws[i].cmd.since;
      a = answer_json(answer_kind::done, changes_json(none));
    }
    if (!a) {
      ++i;
      continue;
    }
    answer(s, ws[i].cmd, std::move(*a));
    ws[i] = std::move(ws.back());
    ws.pop_back();
  }
}

// `GET /api/changes`: a page at once when there is one (or no wait was asked), else the
// request waits for a write or its time.
void follow_changes(self_ptr self, tracker_command cmd) {
  auto& s = self->state;
  auto page = feed_page(s, cmd);
  if (page || cmd.wait_s == 0) {
    if (!page) {
      storage::change_page none;
      none.last_seq = cmd.since;
      page = answer_json(answer_kind::done, changes_json(none));
    }
    return answer(s, cmd, std::move(*page));
  }
  if (s.feed_waiters.size() >= max_feed_waiters) {
    auto a = refuse(actors_errc::busy, "too many followers of the change feed are waiting; retry");
    a.retry_after_s = 1;
    return answer(s, cmd, std::move(a));
  }
  auto wait = std::chrono::seconds{cmd.wait_s};
  s.feed_waiters.push_back({std::move(cmd), std::chrono::steady_clock::now() + wait});
  self->delayed_send(self, wait, io_done_atom::value,
                     io_continuation{[self] { serve_feed_waiters(self->state, true); }});
}

tracker_actor::behavior_type tracker(self_ptr self, tracker_init init) {
  auto& st = self->state;
  st.front = init.front ? init.front : std::make_shared<tracker_front>(init);
  st.svc = st.front->services();
  st.pool = init.pool;
  st.password_pool = init.password_pool != nullptr ? init.password_pool : init.pool;
  st.limiter = sign_in_limiter{init.settings.sign_in};
  self->delayed_send(self, std::chrono::minutes{1}, purge_atom::value);
  // Every write of an element wakes the change feed's followers (one message per burst).
  st.svc->elements->on_change(
      [wake = st.feed_wake, weak = caf::actor_cast<caf::weak_actor_ptr>(self), self](uint64_t) {
        if (wake->exchange(true)) return;
        if (auto alive = caf::actor_cast<caf::strong_actor_ptr>(weak))
          caf::anon_send(caf::actor_cast<tracker_actor>(alive), io_done_atom::value,
                         io_continuation{[self] {
                           self->state.feed_wake->store(false);
                           serve_feed_waiters(self->state, false);
                         }});
      });
  return {
      [=](api_atom, tracker_command& cmd) {
        auto& s = self->state;
        ++s.requests;
        if (cmd.op == api_op::sign_in)  // argon2id takes tens of milliseconds: never here
          return sign_in(self, std::move(cmd));
        auto auth = s.front->authenticate(cmd.token, cmd.bad_credentials);
        if (!auth) return answer(s, cmd, answer_error(std::move(auth.error())));
        auto who_ptr = std::move(*auth);
        const principal& who = *who_ptr;
        if (auto refused = class_refusal(cmd.op, who)) return answer(s, cmd, std::move(*refused));
        switch (cmd.op) {
          case api_op::verify:
            return answer(s, cmd, answer_json(answer_kind::done, detail::verify_json(who)));
          case api_op::changes:
            return follow_changes(self, std::move(cmd));
          case api_op::sign_out: {
            if (who.anonymous)
              return answer(s, cmd,
                            refuse(actors_errc::unauthenticated, "no token to revoke"));
            if (auto err = s.svc->users->revoke_token(cmd.token))
              return answer(s, cmd, answer_error(std::move(err)));
            s.front->forget(cmd.token);
            auto a = answer_json(answer_kind::done, "{\"signed_out\":true}");
            a.token_revoked = true;
            return answer(s, cmd, std::move(a));
          }
          default:
            break;
        }
        bool users = detail::touches_users(cmd, who);
        bool slow = users || detail::slow_op(cmd.op) ||
                    cmd.body.size() > s.svc->settings.inline_body_bytes;
        if (!slow) return answer(s, cmd, detail::run_tracker_op(*s.svc, cmd, who));
        run_on_pool(self, std::move(cmd), std::move(who_ptr), users);
      },
      [=](auth_atom, const std::string& token,
          bool bad_credentials) -> caf::result<std::string, uint8_t, bool> {
        auto& s = self->state;
        ++s.requests;
        auto who = s.front->authenticate(token, bad_credentials);
        if (!who) {
          ++s.refused;
          return std::move(who.error());
        }
        return {(*who)->name, static_cast<uint8_t>((*who)->cls), (*who)->anonymous};
      },
      [=](purge_atom) {
        // Expired tokens and orphaned password hashes go away every few minutes.
        run_io(
            self, *self->state.pool,
            [svc = self->state.svc]() {
              auto now = storage::epoch_ms();
              auto n = svc->users->purge_expired(now);
              if (!n) spdlog::warn("tracker: purging expired tokens: {}", render(n.error()));
              // The change feed is compacted by age, a bounded batch each time.
              auto keep_ms = svc->settings.changes_keep_s * 1000;
              auto gone = svc->elements->forget_changes_before(now - keep_ms, 100000);
              if (!gone) spdlog::warn("tracker: compacting the change feed: {}", render(gone.error()));
              else if (*gone > 0) spdlog::debug("tracker: the change feed forgot {} change(s)", *gone);
              return n ? *n : uint64_t{0};
            },
            [=](uint64_t n) {
              if (n > 0) spdlog::debug("tracker: purged {} expired token(s)", n);
              self->delayed_send(self, std::chrono::minutes{10}, purge_atom::value);
            });
      },
      [=](status_atom) {
        auto& s = self->state;
        actor_status out;
        out.id = "tracker";
        out.kind = "tracker";
        out.state = "running";
        out.mailbox = self->mailbox().size();
        // Point reads answered on the network threads count as the tracker's requests too.
        auto front = s.front->read_counters();
        out.counters["requests"] = static_cast<int64_t>(s.requests + front.point_reads);
        out.counters["point_reads"] = static_cast<int64_t>(front.point_reads);
        out.counters["refused"] = static_cast<int64_t>(s.refused + front.refused);
        out.counters["failed"] = static_cast<int64_t>(s.failed + front.failed);
        out.counters["pool_jobs"] = static_cast<int64_t>(s.in_pool);
        out.counters["pool_queued"] = static_cast<int64_t>(s.pool->queued());
        out.counters["token_cache"] = static_cast<int64_t>(front.cached);
        out.counters["token_cache_hits"] = static_cast<int64_t>(front.cache_hits);
        out.counters["feed_waiters"] = static_cast<int64_t>(s.feed_waiters.size());
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

}  // namespace

tracker_actor spawn_tracker(caf::actor_system& sys, tracker_init init) {
  return sys.spawn<caf::detached>(tracker, std::move(init));
}

}  // namespace syncline::actors
