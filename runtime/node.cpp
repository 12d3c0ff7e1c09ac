#include "runtime/node.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "actors/datasource_api_actor.hpp"
#include "actors/directory_actor.hpp"
#include "actors/error.hpp"
#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "actors/records.hpp"
#include "actors/site_actor.hpp"
#include "actors/supervisor_actor.hpp"
#include "actors/targets.hpp"
#include "actors/tracker_actor.hpp"
#include "actors/tracker_front.hpp"
#include "runtime/api_routes.hpp"
#include "runtime/content_routes.hpp"
#include "runtime/node_routes.hpp"
#include "runtime/page_routes.hpp"
#include "runtime/error.hpp"
#include "runtime/http_server.hpp"
#include "runtime/logging.hpp"
#include "runtime/service_notify.hpp"
#include "runtime/version.hpp"
#include "storage/credential_store.hpp"
#include "storage/database.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::runtime {

namespace {

std::string health_body(const std::string& node_id, std::chrono::steady_clock::time_point since) {
  auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - since);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("status");
  w.String("ok");
  w.Key("node_id");
  w.String(node_id.c_str());
  w.Key("version");
  w.String(version());
  w.Key("uptime_s");
  w.Int64(uptime.count());
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

http_router make_routes(const std::string& node_id, std::chrono::steady_clock::time_point since,
                        actors::tracker_actor tracker, actors::datasource_api_actor datasources,
                        caf::actor_system& sys, node_routes_init node,
                        std::shared_ptr<const request_policy> policy,
                        std::shared_ptr<actors::tracker_front> front) {
  http_router router;
  router.add("GET", "/health", [node_id, since](http_request, http_reply reply) {
    reply.send(http_response::json(200, health_body(node_id, since)));
  });
  add_node_routes(router, sys, std::move(node));
  add_page_routes(router);
  add_api_routes(router, sys, std::move(tracker), std::move(datasources), std::move(policy),
                 std::move(front));
  return router;
}

// `[site]` and `[node] name` together, and the token read from its file; checked before anything
// is created. Nothing when this node is not a site.
caf::expected<std::optional<actors::site_settings>> site_settings_of(const node_config& cfg) {
  auto& s = cfg.site;
  if (s.path.empty()) return std::optional<actors::site_settings>{};
  auto bad = [](std::string what) {
    return make_error(runtime_errc::invalid_config, "[site] " + std::move(what));
  };
  if (cfg.node.name.empty())
    return bad("path is set, so this node is a site: [node] name must name it (letters, digits, "
               "'_' and '-'; other sites see it as origin and in synced_<name>)");
  if (s.tracker.empty()) return bad("tracker must give the tracker's URL (this node's own when it is the tracker)");
  if (s.token_file.empty()) return bad("token_file must name a file holding a token of a tracker user");
  for (auto& v : cfg.volumes)
    if (v.id == "site")
      return bad("the site volume is served as the volume 'site': rename the [[volume]] of that id");
  std::error_code ec;
  if (!std::filesystem::is_directory(s.path, ec))
    return bad("path " + s.path + " is not a directory (make it, or mount the volume)");
  std::ifstream in{s.token_file, std::ios::binary};
  std::string token;
  if (in) std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\n'))
    token.pop_back();
  if (token.empty())
    return bad("token_file " + s.token_file.string() + " cannot be read or holds no token");
  actors::site_settings out;
  out.name = cfg.node.name;
  out.path = s.path;
  out.tracker = s.tracker;
  out.token = std::move(token);
  out.url = s.url;
  out.allow_insecure = s.allow_insecure;
  out.ca_file = s.ca_file;
  out.scan_interval = std::chrono::seconds{s.scan_interval_s};
  out.reception = static_cast<uint32_t>(s.reception);
  out.emission = static_cast<uint32_t>(s.emission);
  out.max_bytes_per_s = static_cast<uint64_t>(s.max_bytes_per_s);
  out.feed_wait = std::chrono::seconds{s.feed_wait_s};
  out.sync_everywhere = s.sync_everywhere;
  out.discover_deletions = s.discover_deletions;
  out.agent_version = version();
  return std::optional<actors::site_settings>{std::move(out)};
}

// Settings of [auth] that hold only together; checked before anything is created.
caf::error check_auth_settings(const auth_settings& auth) {
  if (auth.token_ttl_s > auth.max_token_ttl_s)
    return make_error(runtime_errc::invalid_config,
                      "[auth] token_ttl_s (" + std::to_string(auth.token_ttl_s) +
                          ") is greater than [auth] max_token_ttl_s (" +
                          std::to_string(auth.max_token_ttl_s) +
                          "): a token's default lifetime cannot exceed the longest allowed");
  return caf::none;
}

// The service manager's notifications are a courtesy: a node that cannot send them runs on.
void notify_or_warn(const std::string& state) {
  if (auto err = notify_service_manager(state))
    spdlog::warn("{} (a unit of Type=notify waiting for it times out)", render(err));
}

bool loopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1";
}

// The first admin, made on first start from `[auth] admin_user` and a password from
// `admin_password_file` or SYNCLINE_ADMIN_PASSWORD: there is no built-in password, ever.
caf::error bootstrap_admin(storage::user_store& users, const auth_settings& auth) {
  auto has = users.has_admin();
  if (!has) return std::move(has.error());
  if (*has) {
    if (!auth.admin_user.empty())
      spdlog::info("auth: an admin exists; [auth] admin_user '{}' is not created again",
                   auth.admin_user);
    return caf::none;
  }
  if (auth.admin_user.empty()) {
    spdlog::warn(
        "auth: no admin exists, so no one can manage users. To create one, start the node once "
        "with --set auth.admin_user=NAME and the password in the environment variable "
        "SYNCLINE_ADMIN_PASSWORD (or in a file named by --set auth.admin_password_file=FILE)");
    return caf::none;
  }
  std::string password;
  std::string source;
  if (!auth.admin_password_file.empty()) {
    std::ifstream in{auth.admin_password_file};
    if (!in)
      return make_error(runtime_errc::invalid_config,
                        "auth.admin_password_file: cannot read " +
                            auth.admin_password_file.string() + ": " + std::strerror(errno));
    std::getline(in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    source = auth.admin_password_file.string();
    struct stat st {};
    if (::stat(auth.admin_password_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      spdlog::warn("auth: {} can be read by other users; chmod 600 it", source);
  } else if (const char* env = std::getenv("SYNCLINE_ADMIN_PASSWORD"); env != nullptr) {
    password = env;
    source = "SYNCLINE_ADMIN_PASSWORD";
  }
  if (password.empty())
    return make_error(runtime_errc::invalid_config,
                      "auth.admin_user is '" + auth.admin_user +
                          "' but no password was given: set auth.admin_password_file or the "
                          "environment variable SYNCLINE_ADMIN_PASSWORD");
  auto made = users.create_user(auth.admin_user, password, storage::user_class::admin);
  if (!made) return std::move(made.error());
  spdlog::info("auth: created admin @{} (password from {})", auth.admin_user, source);
  return caf::none;
}

// Makes the database's records match the configuration: volumes and datasources of the
// configuration are created on first start; on later starts their configuration is replaced
// and their state (status, health, schedule) kept. A datasource in `error` whose configuration
// changed gets another chance: a person acted. Records the configuration no longer names are
// kept, but not started.
//
// Targets are sticky: a datasource whose configuration gives no `target` (or `targets`) keeps
// the stored one. That is how a datasource of a data directory of schema version 1 keeps
// writing at its volume's root. Targets that overlap refuse the start, before anything is
// written; a target that moved makes its link start afresh (`moved`, forgotten by the caller).
struct record_sets {
  std::vector<actors::volume_record> volumes;
  std::vector<actors::datasource_record> datasources;
  std::vector<std::pair<std::string, std::string>> moved;  // (datasource, volume)
};

caf::expected<record_sets> reconcile_records(storage::database& db,
                                             storage::datasource_store& store,
                                             const node_config& cfg) {
  auto now = storage::epoch_ms();
  auto stored_volumes = actors::load_volumes(db);
  if (!stored_volumes) return std::move(stored_volumes.error());
  auto stored_sources = actors::load_datasources(store);
  if (!stored_sources) return std::move(stored_sources.error());
  auto made_by_api = actors::api_datasource_ids(store);
  if (!made_by_api) return std::move(made_by_api.error());
  record_sets out;
  for (auto& c : cfg.volumes) {
    actors::volume_record rec;
    rec.created_ms = now;
    for (auto& r : *stored_volumes)
      if (r.config.id == c.id) rec = r;
    rec.config = c;
    out.volumes.push_back(std::move(rec));
  }
  std::vector<std::string> notes;  // one per datasource, logged once everything is saved
  std::set<std::string> from_api;
  for (auto c : cfg.datasources) {
    actors::datasource_record rec;
    rec.created_ms = now;
    bool found = false;
    for (auto& r : *stored_sources)
      if (r.config.id == c.id) {
        rec = r;
        found = true;
      }
    if (found && !c.target) c.target = rec.config.target;
    if (found && c.targets.empty()) c.targets = rec.config.targets;
    auto plain = [](const actors::datasource_config& x) {
      actors::datasource_record only_config;
      only_config.config = x;
      return actors::encode(only_config);
    };
    bool changed = found && plain(c) != plain(rec.config);
    // A person edited the file: a datasource in error gets another chance.
    if (changed) actors::person_acted(rec);
    if (found)
      for (auto& v : actors::moved_targets(rec.config, c)) out.moved.emplace_back(c.id, v);
    rec.config = c;
    std::string feeds;
    for (auto& v : c.volumes)
      feeds += (feeds.empty() ? "" : ", ") + v + "/" + actors::target_of(c, v);
    notes.push_back(fmt::format("datasource {} ({} {} -> {}, sync type {}): {}{}{}", c.id, c.type,
                                c.type == "folder" ? c.path : std::to_string(c.count) + " items",
                                feeds, actors::to_string(c.sync), actors::to_string(rec.status),
                                found ? (changed ? ", configuration changed" : "") : " (new)",
                                rec.last_error.empty() ? "" : " (last error: " + rec.last_error + ")"));
    out.datasources.push_back(std::move(rec));
  }
  for (auto r : *stored_sources) {
    bool named = false;
    for (auto& c : cfg.datasources) named = named || c.id == r.config.id;
    if (!named && made_by_api->count(r.config.id) != 0) {
      // Created through the API: the database is its only configuration, but for targets
      // given on the command line.
      auto o = cfg.target_overrides.find(r.config.id);
      if (o != cfg.target_overrides.end()) {
        auto before = r.config;
        if (o->second.target) r.config.target = o->second.target;
        for (auto& [v, t] : o->second.targets) r.config.targets[v] = t;
        if (auto problem = actors::target_problem(r.config); !problem.empty())
          return make_error(runtime_errc::invalid_config, "--set datasource." + r.config.id +
                                                              ".target: " + problem);
        for (auto& v : actors::moved_targets(before, r.config)) out.moved.emplace_back(r.config.id, v);
      }
      from_api.insert(r.config.id);
      if (r.config.type == "folder")
        if (auto p = actors::allowed_root_problem(r.config.path,
                                                  cfg.datasources_settings.allowed_roots);
            !p.empty())
          spdlog::warn("datasource {} was made through the API before its folder had to be "
                       "allowed, and keeps running: {}",
                       r.config.id, p);
      notes.push_back(fmt::format("datasource {} ({}/{}/{}, created through the API): {}",
                                  r.config.id, r.config.container, r.config.account,
                                  r.config.workspace, actors::to_string(r.status)));
      out.datasources.push_back(r);
    } else if (!named) {
      spdlog::warn("datasource {} is in the database but not in the configuration: not started",
                   r.config.id);
    }
  }
  for (auto& [id, o] : cfg.target_overrides)
    if (from_api.count(id) == 0)
      return make_error(runtime_errc::invalid_config,
                        "--set datasource." + id +
                            ".target: no datasource '" + id +
                            "' in the configuration or made through the API");
  // Overlapping targets: nothing is saved, the data directory stays as it was.
  std::vector<actors::datasource_config> all;
  for (auto& r : out.datasources) all.push_back(r.config);
  if (auto conflict = actors::target_conflict(all); !conflict.empty()) {
    std::string how;
    for (auto& r : out.datasources) {
      if (conflict.find("'" + r.config.id + "'") == std::string::npos) continue;
      how += from_api.count(r.config.id) != 0
                 ? "; datasource '" + r.config.id +
                       "' was made through the API: start the node once with --set "
                       "datasource." + r.config.id + ".target=DIR"
                 : "; datasource '" + r.config.id +
                       "' is in the configuration file: add target = \"DIR\" to its "
                       "[[datasource]] table";
    }
    auto older = db.stored_schema_version() < storage::schema_version
                     ? "this data directory was written by an older syncline, where every "
                       "datasource wrote at its volumes' roots; now "
                     : "";
    return make_error(runtime_errc::invalid_config,
                      older + conflict + how +
                          ". What was copied so far stays where it is; each datasource fills "
                          "its new target afresh");
  }
  for (auto& rec : out.volumes) {
    if (auto err = actors::save(db, rec)) return err;
    spdlog::info("volume {} ({} {})", rec.config.id, rec.config.type, rec.config.path);
  }
  for (auto& rec : out.datasources)
    if (auto err = actors::save(store, rec)) return err;
  for (auto& n : notes) spdlog::info("{}", n);
  return out;
}

}  // namespace

struct node::impl {
  // Declared in start order, so members also die in reverse order if `start` fails midway.
  std::unique_ptr<storage::database> db;
  std::unique_ptr<actors::node_context> ctx;
  std::unique_ptr<storage::element_store> elements;
  std::unique_ptr<storage::user_store> users;
  std::unique_ptr<storage::credential_store> credentials;
  std::unique_ptr<actors::io_pool> api_pool;
  std::unique_ptr<actors::io_pool> password_pool;
  caf::actor_system_config caf_cfg;
  std::unique_ptr<caf::actor_system> system;
  actors::directory_actor directory;
  actors::supervisor_actor supervisor;
  actors::tracker_actor tracker;
  actors::datasource_api_actor datasource_api;
  std::unique_ptr<http_server> http;
  caf::actor watcher;
  caf::actor site;
  mutable std::mutex fatal_mtx;
  caf::error fatal;
  // Pokes the event streams every 15 s (their keep-alive comment), until the node stops.
  std::thread event_ticker;
  std::mutex ticker_mtx;
  std::condition_variable ticker_cv;
  bool ticker_stop = false;

  void start_event_ticker() {
    event_ticker = std::thread{[this] {
      std::unique_lock<std::mutex> lock{ticker_mtx};
      while (!ticker_cv.wait_for(lock, std::chrono::seconds{15}, [this] { return ticker_stop; }))
        ctx->events().poke();
    }};
  }
  void stop_event_ticker() {
    {
      std::lock_guard<std::mutex> g{ticker_mtx};
      ticker_stop = true;
    }
    ticker_cv.notify_all();
    if (event_ticker.joinable()) event_ticker.join();
  }

  // Stops the actors (the supervisor stops its children), then the I/O pool: jobs in flight
  // finish and their results go nowhere; nothing touches the database afterwards.
  void stop_actors() {
    if (!system) return;
    if (watcher) caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    watcher = nullptr;
    if (site) caf::anon_send_exit(site, caf::exit_reason::user_shutdown);
    site = nullptr;
    if (tracker) caf::anon_send_exit(tracker, caf::exit_reason::user_shutdown);
    if (datasource_api) caf::anon_send_exit(datasource_api, caf::exit_reason::user_shutdown);
    if (supervisor) caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    if (directory) caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
    tracker = nullptr;
    datasource_api = nullptr;
    supervisor = nullptr;
    directory = nullptr;
    system->await_all_actors_done();
    // The tracker's jobs in flight finish (their answers go to closed connections) before the
    // stores they use go away.
    if (api_pool) api_pool->stop();
    if (password_pool) password_pool->stop();
    if (ctx) ctx->pool().stop();
  }
  ~impl() {
    stop_event_ticker();
    stop_actors();
  }
  std::string node_id;
  listen_address http_address;
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

node::~node() {
  stop();
}

const listen_address& node::http_address() const noexcept {
  return impl_->http_address;
}

const std::string& node::node_id() const noexcept {
  return impl_->node_id;
}

actors::node_context& node::context() noexcept { return *impl_->ctx; }

caf::error node::fatal_error() const {
  std::lock_guard<std::mutex> guard{impl_->fatal_mtx};
  return impl_->fatal;
}

caf::expected<std::unique_ptr<node>> node::start(const node_config& cfg) {
  auto started = std::chrono::steady_clock::now();
  auto p = std::make_unique<impl>();
  if (auto err = check_auth_settings(cfg.auth)) return err;
  auto site = site_settings_of(cfg);
  if (!site) return std::move(site.error());
  if (cfg.http.tls_cert.empty() != cfg.http.tls_key.empty())
    return make_error(runtime_errc::invalid_config,
                      "[http] TLS needs both tls_cert (the certificate chain) and tls_key (its "
                      "private key)");

  std::error_code ec;
  auto data_dir = std::filesystem::absolute(cfg.node.data_dir, ec).lexically_normal();
  if (ec) data_dir = cfg.node.data_dir;
  // A folder of the configuration that overlaps a volume or the data directory is a mistake
  // of the file: the node does not start, and nothing is created. (Datasources made through
  // the API are parked by the supervisor with the same reason.)
  for (auto& d : cfg.datasources)
    if (auto overlap = actors::source_overlap(d, cfg.volumes, data_dir.string()); !overlap.empty())
      return make_error(runtime_errc::invalid_config, overlap);
  spdlog::info("data directory {}", data_dir.string());
  storage::database_options db_opts;
  db_opts.data_dir = data_dir;
  db_opts.sync_writes = cfg.storage.sync_writes;
  db_opts.block_cache_bytes = size_t{cfg.storage.block_cache_mb} << 20;
  auto db = storage::database::open(db_opts);
  if (!db) return std::move(db.error());
  p->db = std::move(*db);
  p->node_id = p->db->node_id();
  spdlog::info("node id {}{}", p->node_id,
               cfg.node.name.empty() ? std::string{} : " (" + cfg.node.name + ")");

  // CAF reads no file and no command line here: every knob comes from node_config.
  auto& cc = p->caf_cfg;
  cc.set("scheduler.policy", cfg.scheduler.policy == scheduler_policy::sharing
                                 ? caf::atom("sharing")
                                 : caf::atom("stealing"));
  cc.set("scheduler.max-threads", static_cast<size_t>(cfg.scheduler.threads));
  cc.set("logger.file-verbosity", caf::atom("quiet"));
  cc.set("logger.console-verbosity", caf::atom("quiet"));
  actors::register_types(cc);
  cc.add_error_category(runtime_category, render_runtime_error);
  try {
    p->system = std::make_unique<caf::actor_system>(cc);
  } catch (const std::exception& e) {
    return make_error(runtime_errc::actor_system_failed, e.what());
  }
  spdlog::info("actor system: {} scheduler, {} thread(s)", to_string(cfg.scheduler.policy),
               cfg.scheduler.threads);

  auto stored_schema = p->db->stored_schema_version();
  auto queue = storage::transfer_queue::open(*p->db);
  if (!queue) return std::move(queue.error());
  for (auto& [name, n] : (*queue)->sizes()) {
    if (auto parts = actors::split_queue_name(name))
      spdlog::info("queue {} <- {}: {} pending transfer(s) from before", parts->first,
                   parts->second, n);
  }
  p->ctx = std::make_unique<actors::node_context>(*p->db, std::move(*queue), cfg.runtime);
  auto records = reconcile_records(*p->db, p->ctx->datasources(), cfg);
  if (!records) return std::move(records.error());
  for (auto& [id, volume] : records->moved) {
    spdlog::warn("datasource {}: its target in volume {} moved; what it copied to the old target "
                 "stays there, and the new target is filled afresh",
                 id, volume);
    if (auto err = p->ctx->forget_link(id, volume)) return err;
  }
  if (stored_schema != storage::schema_version) {
    if (auto err = p->db->finish_upgrade()) return err;
    spdlog::warn("data directory upgraded from schema version {} to {}: datasources made before "
                 "keep writing at their volume's root (target \"\"); a syncline older than "
                 "this one can no longer open it",
                 stored_schema, storage::schema_version);
  }
  p->elements = std::make_unique<storage::element_store>(*p->db);
  p->users = std::make_unique<storage::user_store>(*p->db, *p->elements);
  if (auto err = bootstrap_admin(*p->users, cfg.auth)) return err;
  auto credentials = storage::credential_store::open(*p->db);
  if (!credentials) return std::move(credentials.error());
  p->credentials = std::move(*credentials);
  p->ctx->set_credentials(p->credentials.get());
  p->api_pool = std::make_unique<actors::io_pool>(cfg.api.io_threads);
  p->password_pool = std::make_unique<actors::io_pool>(cfg.api.password_threads);
  p->directory = actors::spawn_directory(*p->system, std::chrono::seconds{5});
  actors::supervisor_init sup;
  sup.ctx = p->ctx.get();
  sup.directory = p->directory;
  sup.volumes = std::move(records->volumes);
  sup.datasources = std::move(records->datasources);
  p->supervisor = actors::spawn_supervisor(*p->system, std::move(sup));
  // A supervisor that ends on its own ended on a fatal failure: the node stops, loudly.
  p->watcher = p->system->spawn(
      [raw = p.get()](caf::event_based_actor* self, actors::supervisor_actor target) -> caf::behavior {
        self->monitor(target);
        self->set_down_handler([=](caf::down_msg& dm) {
          if (!dm.reason || dm.reason == caf::exit_reason::user_shutdown) return;
          spdlog::critical("the supervisor stopped on a fatal failure: {}; stopping the node",
                           actors::render(dm.reason));
          {
            std::lock_guard<std::mutex> guard{raw->fatal_mtx};
            raw->fatal = dm.reason;
          }
          ::kill(::getpid(), SIGTERM);
          self->quit();
        });
        return {[](caf::ok_atom) {}};
      },
      p->supervisor);

  actors::datasource_api_init dsapi;
  dsapi.ctx = p->ctx.get();
  dsapi.supervisor = p->supervisor;
  dsapi.directory = p->directory;
  dsapi.pool = p->api_pool.get();
  dsapi.users = p->users.get();
  dsapi.credentials = p->credentials.get();
  dsapi.allowed_roots = cfg.datasources_settings.allowed_roots;
  p->datasource_api = actors::spawn_datasource_api(*p->system, std::move(dsapi));
  caf::anon_send(p->directory, actors::register_atom::value,
                 actors::directory_entry{"datasource_api", "datasource_api",
                                         caf::actor_cast<caf::actor>(p->datasource_api)});

  actors::tracker_init tracker;
  tracker.elements = p->elements.get();
  tracker.users = p->users.get();
  tracker.pool = p->api_pool.get();
  tracker.password_pool = p->password_pool.get();
  tracker.settings.sign_in.per_user_address = cfg.auth.sign_in_attempts;
  tracker.settings.sign_in.per_address = cfg.auth.sign_in_attempts_per_address;
  tracker.settings.sign_in.window = std::chrono::seconds{cfg.auth.sign_in_window_s};
  tracker.settings.max_answer_ids = cfg.api.max_answer_ids;
  tracker.settings.changes_keep_s = cfg.api.changes_keep_s;
  tracker.settings.anonymous_class = cfg.auth.anonymous_class;
  tracker.settings.token_ttl = std::chrono::seconds{cfg.auth.token_ttl_s};
  tracker.settings.max_token_ttl = std::chrono::seconds{cfg.auth.max_token_ttl_s};
  tracker.settings.token_cache_ttl = std::chrono::milliseconds{cfg.auth.token_cache_ms};
  tracker.settings.max_ids = cfg.api.max_ids;
  // Point reads are answered on the network threads through the tracker's front, which shares
  // the tracker's token cache.
  auto front = std::make_shared<actors::tracker_front>(tracker);
  tracker.front = front;
  p->tracker = actors::spawn_tracker(*p->system, std::move(tracker));
  caf::anon_send(p->directory, actors::register_atom::value,
                 actors::directory_entry{"tracker", "tracker",
                                         caf::actor_cast<caf::actor>(p->tracker)});
  if (!cfg.auth.anonymous_class.empty()) {
    if (loopback(cfg.http.listen.host)) {
      spdlog::warn("auth: anonymous requests act as class '{}' ([auth] anonymous_class)",
                   cfg.auth.anonymous_class);
    } else {
      for (int i = 0; i < 3; ++i)
        spdlog::warn("auth: ANONYMOUS REQUESTS ACT AS CLASS '{}' AND THE NODE LISTENS ON {}, "
                     "BEYOND LOOPBACK: anyone who reaches it can do what that class may",
                     cfg.auth.anonymous_class, cfg.http.listen.to_string());
    }
  }

  if (cfg.http.tls_cert.empty() && !loopback(cfg.http.listen.host))
    spdlog::warn("http: the node listens on {}, beyond loopback, in plain HTTP: passwords and "
                 "tokens travel in clear ([http] tls_cert and tls_key serve HTTPS)",
                 cfg.http.listen.to_string());

  auto metrics = std::make_shared<http_metrics>();
  http_server_options http_opts;
  http_opts.listen = cfg.http.listen;
  http_opts.tls_cert_file = cfg.http.tls_cert;
  http_opts.tls_key_file = cfg.http.tls_key;
  http_opts.max_body_bytes = cfg.http.max_body_bytes;
  http_opts.max_header_bytes = cfg.http.max_header_bytes;
  http_opts.threads = cfg.http.threads;
  http_opts.read_timeout = std::chrono::seconds{cfg.http.read_timeout_s};
  http_opts.max_connections = cfg.http.max_connections;
  http_opts.server_name = std::string{"syncline/"} + version();
  http_opts.metrics = metrics;
  auto policy = std::make_shared<request_policy>();
  policy->allowed_hosts = cfg.http.allowed_hosts;
  policy->allowed_origins = cfg.http.allowed_origins;
  policy->anonymous_access = !cfg.auth.anonymous_class.empty();
  policy->tls = !cfg.http.tls_cert.empty();
  // Every request but the health check names a Host of this node (no DNS rebinding).
  http_opts.admit = [policy](const http_request& req) -> std::optional<http_response> {
    if (req.path == "/health") return std::nullopt;
    return check_host(req, *policy);
  };
  node_routes_init node_routes;
  node_routes.tracker = p->tracker;
  node_routes.directory = p->directory;
  node_routes.queue = &p->ctx->queue();
  node_routes.datasources = &p->ctx->datasources();
  node_routes.metrics = metrics;
  node_routes.events = &p->ctx->events();
  node_routes.supervisor = p->supervisor;
  node_routes.policy = policy;
  auto routes = make_routes(p->node_id, started, p->tracker, p->datasource_api, *p->system,
                            std::move(node_routes), std::move(policy), std::move(front));
  content_routes_init content{p->tracker, p->ctx.get(), p->api_pool.get(), nullptr};
  if (*site && (*site)->tracker != "self")
    content.remote = std::make_shared<remote_verifier>((*site)->tracker, (*site)->allow_insecure,
                                                       (*site)->ca_file);
  add_content_routes(routes, *p->system, std::move(content));
  auto http = http_server::start(std::move(http_opts), std::move(routes));
  if (!http) return std::move(http.error());
  p->http = std::move(*http);
  p->http_address = p->http->local_address();
  const std::string scheme = cfg.http.tls_cert.empty() ? "http://" : "https://";
  spdlog::info("listening on {}{}", scheme, p->http_address.to_string());
  if (*site) {
    // After the server, whose address is the site's URL by default (and which may be the
    // tracker the site calls).
    // A wildcard address is reached here through loopback; other sites need `[site] url`.
    auto own = p->http_address;
    bool wildcard = own.host == "0.0.0.0" || own.host == "::";
    if (wildcard) own.host = own.host == "::" ? "::1" : "127.0.0.1";
    if ((*site)->url.empty()) {
      (*site)->url = scheme + own.to_string();
      if (wildcard)
        spdlog::warn("site: [site] url is not set and the node listens on every address; other "
                     "sites are told {}, which only this machine reaches", (*site)->url);
    }
    if ((*site)->tracker == "self") (*site)->tracker = scheme + own.to_string();
    p->site = actors::spawn_site(*p->system, p->ctx.get(), std::move(**site));
    caf::anon_send(p->directory, actors::register_atom::value,
                   actors::directory_entry{"site", "site", p->site});
  }
  p->start_event_ticker();
  return std::unique_ptr<node>(new node(std::move(p)));
}

void node::stop() noexcept {
  if (!impl_) return;
  impl_->stop_event_ticker();
  if (impl_->http) {
    impl_->http->stop();
    impl_->http.reset();
    spdlog::info("HTTP server stopped");
  }
  if (impl_->system) {
    impl_->stop_actors();
    impl_->system.reset();
    impl_->users.reset();
    impl_->elements.reset();
    impl_->api_pool.reset();
    impl_->password_pool.reset();
    impl_->ctx.reset();  // its I/O jobs may still read credentials until its pool stops
    impl_->credentials.reset();
    spdlog::info("actor system stopped");
  }
  if (impl_->db) {
    impl_->db.reset();
    spdlog::info("database closed");
  }
}

caf::error run_node(const node_config& cfg) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  // Blocked before any thread exists (RocksDB, CAF and the HTTP server all start some), so
  // every thread inherits the mask and only sigwait below ever receives these signals.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); rc != 0)
    return make_error(runtime_errc::signal_setup_failed,
                      std::string{"pthread_sigmask: "} + std::strerror(rc));
  // A vanished reader of stderr must not kill the node; the write just fails.
  std::signal(SIGPIPE, SIG_IGN);
  if (auto err = start_logging(cfg.log)) return err;
  spdlog::info("syncline {} starting (pid {})", version(), ::getpid());
  auto n = node::start(cfg);
  if (!n) return std::move(n.error());
  spdlog::info("node ready; SIGINT or SIGTERM stops it");
  // A unit of Type=notify (tools/syncline.service) waits for this: the HTTP listener accepts
  // connections from here on, so whatever systemd starts after the node finds it answering.
  notify_or_warn("READY=1\nSTATUS=listening on " +
                 std::string{cfg.http.tls_cert.empty() ? "http://" : "https://"} +
                 (*n)->http_address().to_string());
  int sig = 0;
  for (;;) {
    int rc = ::sigwait(&stop_signals, &sig);
    if (rc == 0) break;
    if (rc != EINTR) {
      spdlog::error("sigwait failed: {}; stopping", std::strerror(rc));
      break;
    }
  }
  spdlog::info("received {}, stopping", sig == SIGINT    ? "SIGINT"
                                        : sig == SIGTERM ? "SIGTERM"
                                                         : "?");
  notify_or_warn("STOPPING=1\nSTATUS=stopping");
  auto fatal = (*n)->fatal_error();
  (*n)->stop();
  n->reset();
  if (fatal) return fatal;
  spdlog::info("stopped");
  return caf::none;
}

}  // namespace syncline::runtime
