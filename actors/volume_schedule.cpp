// actors/volume_schedule.cpp: see volume_schedule.hpp.
#include "actors/volume_schedule.hpp"

#include <string_view>
#include <unordered_set>
#include <utility>

namespace syncline::actors {

volume_schedule::head_key volume_schedule::key_of(const std::string& queue,
                                                  const queue_item& item) {
  return {-item.ticket.priority, item.ticket.seq, queue};
}

void volume_schedule::drop_head(const std::string& queue, const sub_queue& q) {
  if (!q.buffer.empty()) heads_.erase(key_of(queue, q.buffer.front()));
}

void volume_schedule::add_head(const std::string& queue, const sub_queue& q) {
  if (!q.buffer.empty() && paused_.count(q.datasource) == 0)
    heads_.insert(key_of(queue, q.buffer.front()));
}

void volume_schedule::stop_starving(sub_queue& q) {
  if (!q.starving) return;
  starving_.erase(*q.starving);
  q.starving.reset();
}

std::vector<volume_schedule::queue_item> volume_schedule::empty_buffer(const std::string& queue,
                                                                       sub_queue& q) {
  drop_head(queue, q);
  std::vector<queue_item> out{std::make_move_iterator(q.buffer.begin()),
                              std::make_move_iterator(q.buffer.end())};
  q.buffer.clear();
  q.want_refill = true;
  ++q.wakeups;
  stop_starving(q);
  return out;
}

void volume_schedule::add_queue(const std::string& queue, const std::string& datasource) {
  auto [i, added] = queues_.try_emplace(queue);
  if (added) i->second.datasource = datasource;
}

void volume_schedule::wake(const std::string& queue) {
  auto i = queues_.find(queue);
  if (i == queues_.end()) return;
  i->second.want_refill = true;
  ++i->second.wakeups;
}

std::vector<volume_schedule::queue_item> volume_schedule::forget(const std::string& datasource,
                                                                 const std::string& queue) {
  paused_.erase(datasource);
  auto i = queues_.find(queue);
  if (i == queues_.end()) return {};
  auto out = empty_buffer(queue, i->second);
  queues_.erase(i);
  return out;
}

std::vector<volume_schedule::queue_item> volume_schedule::pause(const std::string& datasource,
                                                                const std::string& queue) {
  paused_.insert(datasource);
  // A datasource may be paused before the volume hears of it otherwise: its sub-queue must
  // still know whose it is.
  add_queue(queue, datasource);
  return empty_buffer(queue, queues_[queue]);
}

void volume_schedule::resume(const std::string& datasource, const std::string& queue) {
  paused_.erase(datasource);
  add_queue(queue, datasource);
  auto& q = queues_[queue];
  drop_head(queue, q);
  add_head(queue, q);
  wake(queue);
}

bool volume_schedule::paused(const std::string& datasource) const {
  return paused_.count(datasource) != 0;
}

std::vector<volume_schedule::queue_item> volume_schedule::release_all() {
  std::vector<queue_item> out;
  for (auto& [name, q] : queues_)
    for (auto& item : empty_buffer(name, q)) out.push_back(std::move(item));
  return out;
}

bool volume_schedule::higher_refill_due(int32_t priority) const {
  for (auto& [p, queue] : starving_) {
    if (p <= priority) return false;
    auto i = queues_.find(queue);
    if (i != queues_.end() && paused_.count(i->second.datasource) == 0) return true;
  }
  return false;
}

std::optional<volume_schedule::pick> volume_schedule::next() {
  if (heads_.empty()) return std::nullopt;
  auto [negated, seq, queue] = *heads_.begin();
  (void)seq;
  if (higher_refill_due(-negated)) return std::nullopt;
  return take_head(queue, queues_[queue]);
}

volume_schedule::pick volume_schedule::take_head(const std::string& queue, sub_queue& q) {
  drop_head(queue, q);
  pick out{queue, q.datasource, std::move(q.buffer.front())};
  q.buffer.pop_front();
  if (q.buffer.empty() && q.want_refill && !q.starving)
    q.starving = starving_.emplace(out.item.ticket.priority, queue);
  add_head(queue, q);
  return out;
}

std::optional<volume_schedule::pick> volume_schedule::next_from(const std::string& queue) {
  auto i = queues_.find(queue);
  if (i == queues_.end() || i->second.buffer.empty() || paused_.count(i->second.datasource) != 0)
    return std::nullopt;
  auto priority = i->second.buffer.front().ticket.priority;
  if (!heads_.empty() && -std::get<0>(*heads_.begin()) > priority) return std::nullopt;
  if (higher_refill_due(priority)) return std::nullopt;
  return take_head(queue, i->second);
}

bool volume_schedule::put_back(const std::string& queue, queue_item item) {
  auto i = queues_.find(queue);
  if (i == queues_.end() || paused_.count(i->second.datasource) != 0) {
    wake(queue);
    return false;
  }
  auto& q = i->second;
  // At the front: it goes before younger items of its priority.
  drop_head(queue, q);
  q.buffer.push_front(std::move(item));
  add_head(queue, q);
  return true;
}

volume_schedule::refill_request volume_schedule::wanted(size_t target) const {
  refill_request r;
  for (auto& [name, q] : queues_) {
    if (!q.want_refill || paused_.count(q.datasource) != 0) continue;
    if (q.buffer.size() * 2 <= target) {
      r.wanted.emplace(name, target - q.buffer.size());
      r.wakeups.emplace(name, q.wakeups);
    }
  }
  return r;
}

std::vector<volume_schedule::queue_item> volume_schedule::refilled(
    const refill_request& asked, std::map<std::string, std::vector<queue_item>> items,
    const std::set<std::string>& exhausted, bool volume_paused) {
  std::vector<queue_item> back;
  for (auto& [name, count] : asked.wakeups) {
    (void)count;
    auto i = queues_.find(name);
    if (i != queues_.end()) stop_starving(i->second);
  }
  for (auto& [name, leased] : items) {
    auto i = queues_.find(name);
    if (volume_paused || i == queues_.end() || paused_.count(i->second.datasource) != 0) {
      for (auto& item : leased) back.push_back(std::move(item));
      continue;
    }
    auto& q = i->second;
    drop_head(name, q);
    for (auto& item : leased) q.buffer.push_back(std::move(item));
    add_head(name, q);
  }
  for (auto& name : exhausted) {
    auto i = queues_.find(name);
    auto w = asked.wakeups.find(name);
    if (i != queues_.end() && w != asked.wakeups.end() && w->second == i->second.wakeups)
      i->second.want_refill = false;
  }
  return back;
}

std::vector<std::string> volume_schedule::queue_names() const {
  std::vector<std::string> out;
  for (auto& [name, q] : queues_) out.push_back(name);
  return out;
}

size_t volume_schedule::buffered() const {
  size_t n = 0;
  for (auto& [name, q] : queues_) n += q.buffer.size();
  return n;
}

bool volume_schedule::buffered_independent() const {
  std::unordered_set<std::string_view> paths;
  for (auto& [name, q] : queues_)
    for (auto& item : q.buffer) {
      std::string_view path{item.payload};
      if (!path.empty() && path.back() == '/') path.remove_suffix(1);
      if (!paths.insert(path).second) return false;
    }
  for (auto path : paths)
    for (auto slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1))
      if (paths.count(path.substr(0, slash)) != 0) return false;
  return true;
}

bool in_the_way(const running_set& running, const std::string& datasource,
                const std::string& reference) {
  auto is_running = [&](std::string path) {
    return running.count({datasource, std::move(path)}) > 0;
  };
  std::string path = reference;
  bool directory = !path.empty() && path.back() == '/';
  if (directory) path.pop_back();
  if (path.empty()) return false;
  if (is_running(path) || is_running(path + "/")) return true;
  for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
    if (is_running(path.substr(0, slash))) return true;  // a file where a directory goes
  if (directory) return false;
  auto below = path + "/";
  auto it = running.lower_bound({datasource, below});
  return it != running.end() && it->first == datasource &&
         it->second.compare(0, below.size(), below) == 0;
}

}  // namespace syncline::actors
