// actors/event_hub.hpp: the node's live events (docs/api.md, GET /api/events): what the actors
// publish (status changes, run transitions, progress), numbered, kept a while for clients that
// reconnect, and handed to the clients waiting for them. Plain code; thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace syncline::actors {

/// One event: its number (from 1, increasing), its type (`datasource`, `run`, `progress`,
/// `actor`), the datasource it concerns ("" for the node's own: who may see it follows from
/// that) and its data, a JSON object.
struct node_event {
  uint64_t seq = 0;
  int64_t at_ms = 0;
  std::string type;
  std::string datasource;
  std::string data;
};

class event_hub {
 public:
  /// Keeps the last `keep` events: a client that falls further behind has missed some.
  explicit event_hub(size_t keep = 4096);

  /// Numbers and keeps an event, and wakes the clients waiting for one. Never blocks for long.
  uint64_t publish(std::string type, std::string datasource, std::string data);

  struct page {
    std::vector<node_event> events;
    /// Events after the position asked for are no longer kept (the client missed some).
    bool gap = false;
  };
  /// The events after `after`, at most `max`.
  page since(uint64_t after, size_t max) const;
  /// The number of the last event (0: none yet).
  uint64_t last() const;

  /// Calls `wake(false)` once, as soon as an event after `after` is kept (at once when one is
  /// already), or `wake(true)` at the next `poke`. Returns an id for `cancel`. `wake` runs on
  /// the publishing thread (or this one) outside the hub's lock: it must not block.
  uint64_t when_after(uint64_t after, std::function<void(bool poked)> wake);
  /// Forgets a waiter (it will not be woken; one being woken now may still run).
  void cancel(uint64_t id);
  /// Wakes every waiter with `true`: the clients' keep-alive, so that one gone is noticed.
  void poke();

 private:
  struct waiter {
    uint64_t after = 0;
    std::function<void(bool)> wake;
  };
  mutable std::mutex mtx_;
  size_t keep_;
  std::deque<node_event> kept_;
  uint64_t seq_ = 0;
  uint64_t next_id_ = 0;
  std::map<uint64_t, waiter> waiting_;
};

}  // namespace syncline::actors
