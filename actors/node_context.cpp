#include "actors/node_context.hpp"

#include "actors/error.hpp"
#include "actors/sync_model.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "storage/ulid.hpp"

namespace syncline::actors {

node_context::node_context(storage::database& db, std::unique_ptr<storage::transfer_queue> queue,
                           runtime_settings settings)
    : db_(db),
      rows_(db),
      runs_(db),
      queue_(std::move(queue)),
      datasources_(db, rows_, *queue_, runs_),
      settings_(std::move(settings)),
      watcher_(std::chrono::milliseconds{settings_.watch_delay_ms}),
      rng_(std::random_device{}()),
      pool_(settings_.io_threads) {}

node_context::~node_context() { pool_.stop(); }

void node_context::set_source(const std::string& datasource,
                              std::shared_ptr<connectors::source> s) {
  std::lock_guard<std::mutex> guard{mtx_};
  sources_[datasource] = std::move(s);
}

std::shared_ptr<connectors::source> node_context::source(const std::string& datasource) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = sources_.find(datasource);
  return i == sources_.end() ? nullptr : i->second;
}

void node_context::set_volume(const std::string& volume, std::shared_ptr<connectors::volume> v) {
  std::lock_guard<std::mutex> guard{mtx_};
  volumes_[volume] = std::move(v);
}

std::shared_ptr<connectors::volume> node_context::volume(const std::string& volume) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = volumes_.find(volume);
  return i == volumes_.end() ? nullptr : i->second;
}

// What the content route of one volume is doing; a slot keeps its gate alive, so an answer
// still being written when the node winds down never touches a freed gate.
struct node_context::emission_gate {
  std::atomic<int64_t> last{0};
  std::atomic<uint32_t> limit{0};
  std::atomic<uint32_t> serving{0};
  std::atomic<uint32_t> peak{0};
};

std::shared_ptr<node_context::emission_gate> node_context::gate(const std::string& volume) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& g = emissions_[volume];
  if (!g) g = std::make_shared<emission_gate>();
  return g;
}

void node_context::note_emission(const std::string& volume) { gate(volume)->last = now_ms(); }

int64_t node_context::last_emission(const std::string& volume) const { return gate(volume)->last; }

void node_context::set_emission_limit(const std::string& volume, uint32_t limit) {
  gate(volume)->limit = limit;
}

std::shared_ptr<const void> node_context::emission_slot(const std::string& volume) {
  auto g = gate(volume);
  auto n = g->serving.load();
  do {
    auto limit = g->limit.load();
    if (limit != 0 && n >= limit) return nullptr;
  } while (!g->serving.compare_exchange_weak(n, n + 1));
  auto peak = g->peak.load();
  while (peak < n + 1 && !g->peak.compare_exchange_weak(peak, n + 1)) {
  }
  struct slot {
    explicit slot(std::shared_ptr<emission_gate> gate) : g(std::move(gate)) {}
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() { --g->serving; }
    std::shared_ptr<emission_gate> g;
  };
  return std::make_shared<slot>(std::move(g));
}

uint32_t node_context::emission_peak(const std::string& volume) const { return gate(volume)->peak; }

void node_context::set_targets(const std::string& datasource,
                               std::map<std::string, std::string> targets) {
  std::lock_guard<std::mutex> guard{mtx_};
  targets_[datasource] = std::move(targets);
}

caf::expected<std::shared_ptr<connectors::volume>> node_context::target(
    const std::string& datasource, const std::string& volume) {
  std::shared_ptr<connectors::volume> base;
  std::string path;
  auto key = std::make_pair(datasource, volume);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto v = volumes_.find(volume);
    auto t = targets_.find(datasource);
    if (v == volumes_.end() || !v->second)
      return make_error(actors_errc::unknown_id, "no volume " + volume);
    if (t == targets_.end() || t->second.count(volume) == 0)
      return make_error(actors_errc::unknown_id,
                        "datasource " + datasource + " has no target in volume " + volume);
    base = v->second;
    path = t->second.at(volume);
    auto m = made_targets_.find(key);
    if (m != made_targets_.end() && m->second.base == base && m->second.path == path)
      return m->second.target;
  }
  // Outside the lock: it may create directories.
  auto made = base->target(path);
  if (!made) return std::move(made.error());
  std::lock_guard<std::mutex> guard{mtx_};
  made_targets_[key] = made_target{base, path, *made};
  return *made;
}

storage::datasource_link node_context::link_of(const std::string& datasource,
                                               const std::string& volume) {
  return {datastore_scope(datasource, volume), queue_name(volume, datasource)};
}

caf::error node_context::forget_link(const std::string& datasource, const std::string& volume) {
  return datasources_.forget_link(link_of(datasource, volume));
}

uint64_t node_context::claim_writer(const std::string& datasource) {
  writer_fence* fence = nullptr;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& f = fences_[datasource];
    if (!f) f = std::make_unique<writer_fence>();
    fence = f.get();
  }
  // Taking the fence's lock waits for a write of the previous incarnation in progress.
  std::lock_guard<std::mutex> guard{fence->mtx};
  return ++fence->epoch;
}

caf::error node_context::write_as(const std::string& datasource, uint64_t epoch,
                                  storage::write_batch& batch) {
  writer_fence* fence = nullptr;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = fences_.find(datasource);
    if (i != fences_.end()) fence = i->second.get();
  }
  if (fence == nullptr)
    return make_error(actors_errc::shutting_down, "datasource " + datasource + " has no writer");
  std::lock_guard<std::mutex> guard{fence->mtx};
  if (fence->epoch != epoch)
    return make_error(actors_errc::shutting_down,
                      "datasource " + datasource + " was replaced; this write is dropped");
  return db_.write(batch);
}

int64_t node_context::now_ms() const noexcept { return storage::epoch_ms(); }

uint64_t node_context::random() {
  std::lock_guard<std::mutex> guard{mtx_};
  return rng_();
}

}  // namespace syncline::actors
