// tests/actors/harness.hpp: a real node in-process (RocksDB, CAF with threads, real folders)
// for end-to-end tests of the actors.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/connector_factory.hpp"
#include "actors/datasource_actor.hpp"
#include "actors/directory_actor.hpp"
#include "actors/error.hpp"
#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "actors/records.hpp"
#include "actors/volume_actor.hpp"
#include "storage/database.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/temp_dir.hpp"

namespace syncline::test {

struct threaded_config : caf::actor_system_config {
  threaded_config() {
    set("scheduler.policy", caf::atom("sharing"));
    set("scheduler.max-threads", 2);
    set("logger.file-verbosity", caf::atom("quiet"));
    actors::register_types(*this);
  }
};

/// Polls `done` until it holds or `limit` passes; the limit only bounds a failure.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds{60}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

inline void write_file(const std::filesystem::path& p, const std::string& content,
                       int64_t mtime_s = 0) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream{p, std::ios::binary | std::ios::trunc} << content;
  if (mtime_s != 0) {
    struct timespec times[2] = {{mtime_s, 0}, {mtime_s, 0}};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

/// A node without HTTP: database, context, actor system, directory. Datasources and volumes
/// are added by the test, with connectors it may wrap.
class harness {
 public:
  explicit harness(actors::runtime_settings settings = fast_settings()) {
    open(std::move(settings));
  }

  ~harness() { close(); }

  static actors::runtime_settings fast_settings() {
    actors::runtime_settings s;
    s.io_threads = 2;
    s.group_delay_ms = 5;
    s.retry.base = std::chrono::milliseconds{10};
    s.retry.cap = std::chrono::milliseconds{50};
    s.retry.max_attempts = 4;
    s.progress_interval_ms = 60000;
    // These suites drive runs themselves (sync-now, schedules) and count them: a watch would
    // start runs of its own when they change a tree. Watching is tested at the node
    // (tests/tools/watch_test.cpp).
    s.watch = false;
    return s;
  }

  void open(actors::runtime_settings settings) {
    auto db = storage::database::open({data.path()});
    if (!db) BOOST_FAIL(actors::render(db.error()));
    db_ = std::move(*db);
    auto q = storage::transfer_queue::open(*db_);
    if (!q) BOOST_FAIL(actors::render(q.error()));
    ctx = std::make_unique<actors::node_context>(*db_, std::move(*q), std::move(settings));
    cfg_ = std::make_unique<threaded_config>();
    sys = std::make_unique<caf::actor_system>(*cfg_);
    self = std::make_unique<caf::scoped_actor>(*sys, true);
  }

  /// Stops every actor, drains the I/O pool, closes the database (a clean restart).
  void close() {
    if (!sys) return;
    for (auto& [id, v] : volumes) caf::anon_send_exit(v, caf::exit_reason::user_shutdown);
    for (auto& [id, d] : datasources) caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
    volumes.clear();
    datasources.clear();
    self.reset();
    sys->await_all_actors_done();
    ctx->pool().stop();
    sys.reset();
    cfg_.reset();
    ctx.reset();
    db_.reset();
  }

  void restart(actors::runtime_settings settings = fast_settings()) {
    close();
    open(std::move(settings));
  }

  actors::volume_actor add_volume(actors::volume_config c,
                                  std::shared_ptr<connectors::volume> conn = nullptr) {
    actors::volume_record rec;
    rec.config = c;
    if (!conn) {
      auto made = actors::make_volume(c);
      if (!made) BOOST_FAIL(actors::render(made.error()));
      conn = *made;
    }
    BOOST_REQUIRE(!actors::save(*db_, rec));
    actors::volume_init init{ctx.get(), rec, conn};
    auto v = actors::spawn_volume(*sys, std::move(init));
    volumes[c.id] = v;
    return v;
  }

  actors::datasource_actor add_datasource(actors::datasource_config c,
                                          std::shared_ptr<connectors::source> src = nullptr) {
    // A restart keeps the stored record (status, schedule), as the node does.
    auto stored = actors::load_datasource(ctx->datasources(), c.id);
    BOOST_REQUIRE(stored);
    actors::datasource_record rec;
    if (*stored) rec = **stored;
    rec.config = c;
    if (!src) {
      auto made = actors::make_source(c);
      if (!made) BOOST_FAIL(actors::render(made.error()));
      src = *made;
    }
    actors::datasource_init init;
    init.ctx = ctx.get();
    init.record = rec;
    init.source = src;
    for (auto& v : c.volumes) init.volumes.emplace(v, volumes.at(v));
    auto d = actors::spawn_datasource(*sys, std::move(init));
    for (auto& v : c.volumes)
      caf::anon_send(volumes.at(v), actors::register_atom::value, c.id, caf::actor_cast<caf::actor>(d));
    datasources[c.id] = d;
    return d;
  }

  template <class Handle>
  actors::actor_status status(const Handle& h) {
    actors::actor_status out;
    (*self)
        ->request<caf::message_priority::high>(h, caf::duration{std::chrono::seconds{10}},
                                               actors::status_atom::value)
        .receive([&](actors::actor_status& s) { out = std::move(s); },
                 [&](caf::error& e) { BOOST_FAIL("status: " + actors::render(e)); });
    return out;
  }

  /// Waits until the datasource's latest run `number` (or any newer) is final; returns its
  /// status word.
  std::string wait_run(const std::string& id, uint64_t number,
                       std::chrono::milliseconds limit = std::chrono::seconds{120}) {
    std::string state;
    bool ok = eventually(
        [&] {
          auto s = status(datasources.at(id));
          auto run = s.counters.count("run") ? static_cast<uint64_t>(s.counters.at("run")) : 0;
          bool final = s.current.find(": success") != std::string::npos ||
                       s.current.find(": failed") != std::string::npos;
          state = s.state;
          return run >= number && final;
        },
        limit);
    BOOST_REQUIRE_MESSAGE(ok, "run " << number << " of " << id << " did not finish; state "
                                     << state);
    return state;
  }

  uint64_t sync_now(const std::string& id) {
    uint64_t number = 0;
    (*self)
        ->request(datasources.at(id), caf::duration{std::chrono::seconds{30}},
                  actors::sync_now_atom::value)
        .receive([&](uint64_t n) { number = n; },
                 [&](caf::error& e) { BOOST_FAIL("sync_now: " + actors::render(e)); });
    return number;
  }

  template <class Handle, class... Ts>
  bool ask(const Handle& h, Ts... xs) {
    bool result = false;
    (*self)
        ->request(h, caf::duration{std::chrono::seconds{30}}, xs...)
        .receive([&](bool b) { result = b; },
                 [&](caf::error& e) { BOOST_FAIL("request: " + actors::render(e)); });
    return result;
  }

  temp_dir data{"node-data"};
  std::unique_ptr<actors::node_context> ctx;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  std::map<std::string, actors::volume_actor> volumes;
  std::map<std::string, actors::datasource_actor> datasources;

 private:
  std::unique_ptr<storage::database> db_;
  std::unique_ptr<threaded_config> cfg_;
};

}  // namespace syncline::test
