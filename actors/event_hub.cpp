#include "actors/event_hub.hpp"

#include <chrono>
#include <utility>

namespace syncline::actors {

event_hub::event_hub(size_t keep) : keep_(keep == 0 ? 1 : keep) {}

uint64_t event_hub::publish(std::string type, std::string datasource, std::string data) {
  std::vector<std::function<void(bool)>> woken;
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> g{mtx_};
    seq = ++seq_;
    node_event e;
    e.seq = seq;
    e.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    e.type = std::move(type);
    e.datasource = std::move(datasource);
    e.data = std::move(data);
    kept_.push_back(std::move(e));
    while (kept_.size() > keep_) kept_.pop_front();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second.after < seq) {
        woken.push_back(std::move(it->second.wake));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : woken) w(false);
  return seq;
}

event_hub::page event_hub::since(uint64_t after, size_t max) const {
  page p;
  std::lock_guard<std::mutex> g{mtx_};
  if (after > seq_) {
    // A position this hub never gave: the node restarted and numbers its events anew.
    p.gap = true;
    after = kept_.empty() ? seq_ : kept_.front().seq - 1;
  }
  if (kept_.empty()) return p;
  uint64_t first = kept_.front().seq;
  if (after + 1 < first) {
    p.gap = true;
    after = first - 1;
  }
  for (size_t i = static_cast<size_t>(after + 1 - first); i < kept_.size() && p.events.size() < max; ++i)
    p.events.push_back(kept_[i]);
  return p;
}

uint64_t event_hub::last() const {
  std::lock_guard<std::mutex> g{mtx_};
  return seq_;
}

uint64_t event_hub::when_after(uint64_t after, std::function<void(bool)> wake) {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> g{mtx_};
    id = ++next_id_;
    if (seq_ == after) {
      waiting_.emplace(id, waiter{after, std::move(wake)});
      return id;
    }
  }
  wake(false);
  return id;
}

void event_hub::cancel(uint64_t id) {
  std::lock_guard<std::mutex> g{mtx_};
  waiting_.erase(id);
}

void event_hub::poke() {
  std::map<uint64_t, waiter> woken;
  {
    std::lock_guard<std::mutex> g{mtx_};
    woken.swap(waiting_);
  }
  for (auto& [id, w] : woken) w.wake(true);
}

}  // namespace syncline::actors
