#include "actors/site_jobs.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/site_keys.hpp"
#include "actors/text.hpp"
#include "connectors/error.hpp"
#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::actors::site_detail {

std::shared_ptr<worker> make_worker(const site_env& env, std::shared_ptr<const std::atomic<bool>> stop) {
  auto w = std::make_shared<worker>();
  connectors::tracker_options t;
  t.url = env.cfg.tracker;
  t.token = env.cfg.token;
  t.allow_insecure = env.cfg.allow_insecure;
  t.ca_file = env.cfg.ca_file;
  t.cancel = stop;
  w->tracker = std::make_unique<connectors::tracker_client>(std::move(t));
  connectors::fetch_options f;
  f.token = env.cfg.token;
  f.max_bytes_per_s = env.cfg.max_bytes_per_s;
  f.allow_insecure = env.cfg.allow_insecure;
  f.ca_file = env.cfg.ca_file;
  f.cancel = std::move(stop);
  w->fetcher = std::make_unique<connectors::http_fetcher>(std::move(f));
  return w;
}

caf::error answer_error(const connectors::tracker_reply& r, const std::string& what) {
  return make_error(actors_errc::job_failed,
                    what + ": the tracker answered " + std::to_string(r.status) + ": " +
                        r.body.substr(0, 300));
}

storage::datastore_row row_of(const std::string& ref, uint64_t size, int64_t mtime_ns,
                              int64_t version) {
  storage::datastore_row r;
  r.reference = ref;
  r.size = size;
  r.mtime_ns = mtime_ns;
  // A site's row keeps in `generation` the tracker `time` of the version it holds (0: some
  // version, not known which).
  r.generation = version > 0 ? static_cast<uint64_t>(version) : 0;
  return r;
}

// --- discovery ----------------------------------------------------------------------------


namespace {

// The `time` of each element of a create or update answer, in order (0 for a null).
std::vector<int64_t> times_of(const connectors::tracker_reply& r, size_t n) {
  std::vector<int64_t> out(n, 0);
  if (r.status == 404 || r.status == 409) return out;
  auto all = connectors::flatten_elements(r.body);
  if (!all || all->size() != n) return out;
  for (size_t i = 0; i < n; ++i)
    if ((*all)[i]) out[i] = (*all)[i]->integer("time").value_or(0);
  return out;
}

// Publishes one kind of change in chunks; records the rows and `synced_<site>` of those the
// tracker took. `body` makes a request body of a chunk.
enum class publish_as : uint8_t { create, update };

template <class Body>
caf::error publish(site_env& env, worker& w, publish_as how,
                   const std::vector<const site_change*>& changes, Body body, size_t& done) {
  auto& rows = env.ctx->rows();
  for (size_t at = 0; at < changes.size(); at += chunk) {
    if (env.stop->load()) return make_error(actors_errc::shutting_down, "stopping");
    std::vector<const site_change*> part(changes.begin() + at,
                                         changes.begin() + std::min(changes.size(), at + chunk));
    auto r = how == publish_as::create ? w.tracker->create(body(part)) : w.tracker->update(body(part));
    if (!r) return std::move(r.error());
    if (r->status != 200 && r->status != 201 && r->status != 207 && r->status != 404 &&
        r->status != 409)
      return answer_error(*r, how == publish_as::create ? "publishing new files" : "publishing changes");
    auto times = times_of(*r, part.size());
    std::vector<std::pair<std::string, int64_t>> synced;
    storage::write_batch batch{env.ctx->db()};
    for (size_t i = 0; i < part.size(); ++i) {
      auto& c = *part[i];
      if (times[i] > 0) synced.emplace_back(element_id(c.reference), times[i]);
      // Taken, or already tracked (a create of an existing id): either way known from now on.
      // A modification the tracker did not take (the element is gone) is forgotten, so the
      // next scan publishes the file anew.
      if (c.what == site_change::kind::modified && times[i] == 0)
        rows.erase(batch, env.scope, c.reference);
      else
        rows.put(batch, env.scope, row_of(c.reference, c.size, c.mtime_ns, times[i]));
    }
    if (!synced.empty()) {
      auto s = w.tracker->sync_state(synced_body(synced, env.cfg.name));
      if (!s) return std::move(s.error());
    }
    if (auto err = env.ctx->db().write(batch)) return err;
    done += synced.size();
  }
  return caf::none;
}

}  // namespace

namespace {

scan_outcome scan_and_publish(site_env& env, worker& w, const live_settings& live) {
  scan_outcome out;
  auto& rows = env.ctx->rows();
  // Packages are published whole: a change inside one is the package's change.
  auto packages = known_packages(env);
  if (!packages) {
    out.err = std::move(packages.error());
    return out;
  }
  for (auto& p : *packages) recover_package(env, p);
  env.guard.start_scan();
  auto listing = env.volume->list();
  if (!listing) {
    env.guard.end_scan();
    out.err = std::move(listing.error());
    return out;
  }
  auto known = rows.scan(env.scope);
  // A file the scan rules leave out is neither published nor, when tracked, removed.
  auto diff = diff_site(**listing, known, [&](const std::string& ref) {
    return is_package(ref) || !live.scans_file(ref) || env.guard.busy(ref);
  });
  auto late = env.guard.end_scan();
  if (!diff) {
    out.err = std::move(diff.error());
    return out;
  }
  std::vector<const site_change*> added, modified, removed;
  std::set<std::string> touched;  // packages with changes inside
  for (auto& c : diff->changes) {
    if (late.count(c.reference)) continue;
    if (auto* package = package_of(*packages, c.reference)) {
      touched.insert(*package);
      continue;
    }
    if (c.what == site_change::kind::modified && (!live.discover_updates || live.ignore_existing))
      continue;
    (c.what == site_change::kind::added      ? added
     : c.what == site_change::kind::modified ? modified
                                             : removed)
        .push_back(&c);
  }
  std::vector<site_change> package_changes;
  package_changes.reserve(touched.size());  // pointed to below
  for (auto& package : touched) {
    // enableDiscoveryPackages off: packages are left alone (what changed inside them waits).
    if (!live.discover_packages || late.count(package) || env.guard.busy(package)) continue;
    auto c = package_change(env, package);
    if (!c) {
      out.err = std::move(c.error());
      return out;
    }
    if (c->what == site_change::kind::modified && (!live.discover_updates || live.ignore_existing))
      continue;
    package_changes.push_back(std::move(*c));
    (package_changes.back().what == site_change::kind::removed ? removed : modified)
        .push_back(&package_changes.back());
  }
  auto now = env.ctx->now_ms();
  if (auto err = publish(env, w, publish_as::create, added,
                         [&](auto& part) { return discovered_body(part, env.cfg.name); },
                         out.added)) {
    out.err = std::move(err);
    return out;
  }
  if (auto err = publish(env, w, publish_as::update, modified,
                         [&](auto& part) { return modified_body(part, env.cfg.name, now); },
                         out.modified)) {
    out.err = std::move(err);
    return out;
  }
  // The files of the packages published: known from now on.
  storage::write_batch package_rows{env.ctx->db()};
  for (auto& c : package_changes)
    if (c.what == site_change::kind::modified)
      if (auto err = record_package_files(env, c.reference, package_rows)) {
        out.err = std::move(err);
        return out;
      }
  if (auto err = env.ctx->db().write(package_rows)) {
    out.err = std::move(err);
    return out;
  }
  if (removed.empty()) return out;
  // The deletion guard: an emptied or unmounted volume, or most of it gone at once, publishes no
  // removal until a person looks (docs/sites.md).
  bool emptied = diff->files == 0;
  bool most = removed.size() > 100 && removed.size() * 2 > diff->rows;
  if (emptied || most) {
    out.held = removed.size();
    out.err = make_error(actors_errc::conflict,
                         std::to_string(removed.size()) + " of " + std::to_string(diff->rows) +
                             " files are gone from the site volume" +
                             (emptied ? " (it is empty: unmounted?)" : "") +
                             "; no removal is published");
    return out;
  }
  storage::write_batch batch{env.ctx->db()};
  for (size_t at = 0; at < removed.size(); at += chunk) {
    std::vector<const site_change*> part(removed.begin() + at,
                                         removed.begin() + std::min(removed.size(), at + chunk));
    if (live.discover_deletions) {
      std::string body = "[";
      for (size_t i = 0; i < part.size(); ++i)
        body += (i ? "," : "") + json_string(element_id(part[i]->reference));
      body += ']';
      auto r = w.tracker->remove(body);
      if (!r) {
        out.err = std::move(r.error());
        return out;
      }
      if (r->status != 200 && r->status != 207 && r->status != 404) {
        out.err = answer_error(*r, "publishing removals");
        return out;
      }
    }
    for (auto* c : part) {
      rows.erase(batch, env.scope, c->reference);
      if (is_package(c->reference))
        if (auto err = record_package_files(env, c->reference, batch)) {  // all gone: erased
          out.err = std::move(err);
          return out;
        }
    }
    out.removed += part.size();
  }
  out.err = env.ctx->db().write(batch);
  return out;
}

}  // namespace

scan_outcome run_scan(site_env& env, worker& w) {
  scan_outcome out;
  auto live = env.live_now();
  if (!live.scans || !live.discovery) {
    out.skipped = true;
    return out;
  }
  auto started = std::chrono::steady_clock::now();
  out = scan_and_publish(env, w, live);
  // The volume element says how the scan went (bookkeeping: time and author stay).
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::steady_clock::now() - started).count();
  // Scan rules that could not be used count as the scan's problem (the rules before them ran).
  auto problem = out.err ? render(out.err) : live.rules_problem;
  auto status = volume_status_body(
      env.cfg.name, {status_number("last_scan", env.ctx->now_ms()),
                     status_number("scan_duration", seconds),
                     status_number("exit_scan", problem.empty() ? 0 : 1),
                     status_text("stderr_scan", problem)});
  if (auto r = w.tracker->sync_state(status); !r && !out.err) out.err = std::move(r.error());
  return out;
}

// --- following the change feed --------------------------------------------------------------


namespace {

// Removes the local copy of a file (or package) deleted from the tracker when it is the copy
// the site recorded (same size and time); a file changed here since stays, and the next scan
// publishes it.
caf::error remove_local(site_env& env, const std::string& ref, storage::write_batch& batch,
                        size_t& removed) {
  if (env.guard.busy(ref)) return caf::none;
  auto row = env.ctx->rows().get(env.scope, ref);
  if (!row) return std::move(row.error());
  if (!*row) return caf::none;
  if (is_package(ref)) return remove_local_package(env, ref, batch, removed);
  auto st = env.volume->stat(ref);
  if (!st) return std::move(st.error());
  if (*st && as_recorded(**st, **row)) {
    if (auto err = env.volume->remove(ref)) return err;
    ++removed;
  }
  env.ctx->rows().erase(batch, env.scope, ref);
  return caf::none;
}

}  // namespace

follow_outcome run_follow(site_env& env, worker& w, uint64_t since, bool wait) {
  follow_outcome out;
  out.cursor = since;
  auto page = w.tracker->changes(since, chunk, wait ? static_cast<uint32_t>(env.cfg.feed_wait.count()) : 0);
  if (!page) {
    out.err = std::move(page.error());
    return out;
  }
  // A full page: more changes wait after it.
  out.more = !page->reset && page->changes.size() >= chunk;
  // The last change of each id decides (created then deleted in one page: deleted).
  std::vector<std::string> order;
  std::map<std::string, bool> deleted;
  if (page->reset) {
    // Older than what the tracker keeps: every element once, then the feed from its end.
    out.reset = true;
    auto all = w.tracker->search("*");
    if (!all) {
      out.err = std::move(all.error());
      return out;
    }
    order = std::move(*all);
    for (auto& id : order) deleted[id] = false;
  } else {
    for (auto& c : page->changes) {
      auto [it, fresh] = deleted.emplace(c.id, c.deleted);
      if (fresh) order.push_back(c.id);
      else it->second = c.deleted;
    }
  }
  // The elements that steer sites first: what they say applies to this very page.
  auto own_id = volume_element_id(env.cfg.name);
  std::vector<std::string> steering;
  for (auto& id : order) {
    if (deleted[id]) continue;
    if (id == own_id || id == global_parameters_id) {
      steering.push_back(id);
    } else if (is_volume_element_id(id)) {
      // Another site's element: its url may have changed.
      std::lock_guard<std::mutex> g{env.origins.mtx};
      env.origins.known.erase(id.substr(5));
    }
  }
  auto live = env.live_now();
  if (!steering.empty()) {
    auto got = w.tracker->read(steering);
    if (!got) {
      out.err = std::move(got.error());
      return out;
    }
    for (size_t i = 0; i < steering.size(); ++i) {
      if (!(*got)[i]) continue;
      auto e = connectors::flatten_element(*(*got)[i]);
      if (!e) continue;
      if (steering[i] == own_id) {
        apply_volume(*e, live);
        out.own = std::move(e);
      } else {
        apply_global(*e, live);
        out.global = std::move(e);
      }
    }
  }
  reception_rules rules{env.cfg.name, live.sync_everywhere};
  storage::write_batch batch{env.ctx->db()};
  // Versions marked queued by this page, forgotten again if its write fails.
  std::vector<std::pair<std::string, int64_t>> fresh;
  auto forget = [&](const std::vector<std::pair<std::string, int64_t>>& marks) {
    std::lock_guard<std::mutex> g{env.queued_mtx};
    for (auto& [ref, time] : marks) {
      auto it = env.queued.find(ref);
      if (it != env.queued.end() && it->second == time) env.queued.erase(it);
    }
  };
  std::vector<std::string> present;
  for (auto& id : order) {
    auto ref = reference_of(id);
    if (!ref) continue;
    if (!deleted[id]) {
      present.push_back(id);
    } else if (auto err = remove_local(env, *ref, batch, out.removed)) {
      out.err = std::move(err);
      return out;
    }
  }
  for (size_t at = 0; at < present.size(); at += chunk) {
    std::vector<std::string> part(present.begin() + at,
                                  present.begin() + std::min(present.size(), at + chunk));
    auto got = w.tracker->read(part);
    if (!got) {
      forget(fresh);
      out.err = std::move(got.error());
      return out;
    }
    for (size_t i = 0; i < part.size(); ++i) {
      if (!(*got)[i]) continue;
      auto e = connectors::flatten_element(*(*got)[i]);
      if (!e) continue;
      if (is_package(part[i]) && e->text("origin") == env.cfg.name) {
        // A package published with this site as its origin: its scans publish it whole.
        auto ref = part[i].substr(1);
        auto row = env.ctx->rows().get(env.scope, ref);
        if (row && !*row)
          env.ctx->rows().put(batch, env.scope, row_of(ref, 0, 0, e->integer("time").value_or(0)));
        continue;
      }
      auto want = copy_needed(part[i], *e, rules);
      if (!want) continue;
      {
        std::lock_guard<std::mutex> g{env.queued_mtx};
        auto& newest = env.queued[want->reference];
        if (newest >= want->time) continue;
        newest = want->time;
        fresh.emplace_back(want->reference, want->time);
      }
      auto pushed = env.ctx->queue().push(batch, env.queue, want->priority, want->encode());
      if (!pushed) {
        forget(fresh);
        out.err = std::move(pushed.error());
        return out;
      }
      ++out.queued;
    }
  }
  // The queue items and the cursor in one write: a crash re-reads the page, never skips it.
  batch.put(storage::column::meta, env.cursor_key, std::to_string(page->last_seq));
  if (auto err = env.ctx->db().write(batch)) {
    forget(fresh);
    out.err = std::move(err);
    return out;
  }
  out.cursor = page->last_seq;
  return out;
}

// --- transfers ------------------------------------------------------------------------------

caf::expected<origin_directory::origin> origin_of(site_env& env, worker& w, const std::string& origin) {
  {
    std::lock_guard<std::mutex> g{env.origins.mtx};
    auto it = env.origins.known.find(origin);
    if (it != env.origins.known.end()) return it->second;
  }
  auto got = w.tracker->read({volume_element_id(origin)});
  if (!got) return std::move(got.error());
  origin_directory::origin o;
  if ((*got)[0])
    if (auto e = connectors::flatten_element(*(*got)[0])) {
      o.url = e->text("url").value_or("");
      o.emitting = e->boolean("enableEmission").value_or(true);
    }
  if (o.url.empty())
    return connectors::make_error(connectors::connector_errc::network,
                                  "the origin " + origin + " has published no url (its element "
                                  "site/" + origin + " is missing: has that site started?)");
  std::lock_guard<std::mutex> g{env.origins.mtx};
  env.origins.known[origin] = o;
  return o;
}

namespace {

// Where the arriving version goes when the site has local content the tracker does not know
// (made or changed here since the last scan), so that neither is lost (Syncthing's practice):
// the newer by modification time keeps the name, the other is kept beside it as
// `<name>.sync-conflict-<site whose version it is>-<time>`. A local file that is older is moved
// aside now and the reference is returned; a newer one stays and the arriving version goes to
// its conflict name (the next scan publishes the local change, which then wins everywhere).
caf::expected<std::string> place_for(site_env& env, const wanted_copy& want,
                                     const std::optional<storage::datastore_row>& row) {
  auto& ref = want.reference;
  auto st = env.volume->stat(ref);
  if (!st) return std::move(st.error());
  if (!*st) return ref;
  if (row && as_recorded(**st, *row)) return ref;
  auto suffix = [&](const std::string& site) {
    return ".sync-conflict-" + site + "-" + std::to_string(want.time);
  };
  if ((*st)->mtime_ns > want.mtime_ms * 1000000) {
    spdlog::warn("site: {} changed here after the version from {}; this site's stays, the "
                 "other is kept as {}{}",
                 ref, want.origin, ref, suffix(want.origin));
    return ref + suffix(want.origin);
  }
  std::error_code ec;
  auto from = std::filesystem::path{env.cfg.path} / ref;
  auto to = from;
  to += suffix(env.cfg.name);
  std::filesystem::rename(from, to, ec);
  if (ec)
    return connectors::make_error(connectors::connector_errc::io_error,
                                  "keeping " + ref + " aside before a newer version: " + ec.message());
  spdlog::warn("site: {} changed here and at {}; the newer version from {} replaces it, this "
               "site's copy is kept as {}",
               ref, want.origin, want.origin, to.filename().string());
  return ref;
}

}  // namespace

fetch_outcome run_fetch(site_env& env, worker& w, const wanted_copy& want) {
  fetch_outcome out;
  auto& rows = env.ctx->rows();
  auto id = element_id(want.reference);
  auto& site = env.cfg.name;
  auto row = rows.get(env.scope, want.reference);
  if (!row) {
    out.err = std::move(row.error());
    out.retry = true;
    return out;
  }
  auto record = [&](const std::string& body) {
    auto r = w.tracker->sync_state(body);
    if (!r) return std::move(r.error());
    if (r->status != 200 && r->status != 404) return answer_error(*r, "recording " + id);
    return caf::error{};
  };
  // Already held (delivered before a crash, a duplicate queue item, or a fetch of an earlier
  // version that found the file as this one is): record it only.
  bool newer_held = *row && (*row)->generation >= static_cast<uint64_t>(want.time);
  if (*row && (newer_held || same_version(**row, want))) {
    auto st = env.volume->stat(want.reference);
    if (st && *st && as_recorded(**st, **row)) {
      if (newer_held) {
        // The version held, which may be newer than this item's.
        out.synced = static_cast<int64_t>((*row)->generation);
        return out;
      }
      storage::write_batch batch{env.ctx->db()};
      rows.put(batch, env.scope, row_of(want.reference, (*row)->size, (*row)->mtime_ns, want.time));
      if (auto err = env.ctx->db().write(batch)) {
        out.err = std::move(err);
        out.retry = true;
        return out;
      }
      out.synced = want.time;
      return out;
    }
  }
  auto failed = [&](caf::error err) {
    if (connectors::is(err, connectors::connector_errc::busy)) {
      // The origin sends as much as its syncAmountEmission allows: not a failure of the copy.
      out.retry = true;
      out.err = std::move(err);
      return out;
    }
    int code = rsync_code(err);
    if (auto e = record(failed_body(id, site, code, env.ctx->now_ms())))
      spdlog::debug("site: recording the failure of {}: {}", id, render(e));
    out.retry = !connectors::is(err, connectors::connector_errc::not_found) &&
                !connectors::is(err, connectors::connector_errc::invalid_path);
    out.done = !out.retry;
    out.err = std::move(err);
    return out;
  };
  auto from = origin_of(env, w, want.origin);
  if (!from) return failed(std::move(from.error()));
  if (!from->emitting) {
    // enableEmission is off at the origin: nothing is fetched from it; the item waits.
    out.retry = true;
    out.err = make_error(actors_errc::paused, "the origin " + want.origin +
                                                  " does not emit (enableEmission is false)");
    return out;
  }
  if (is_package(want.reference)) {
    env.guard.begin(want.reference);
    auto got = receive_package(env, w, want, from->url);
    env.guard.end(want.reference);
    if (!got) return failed(std::move(got.error()));
    out.received = *got;
    out.synced = want.time;
    return out;
  }
  auto* base = &from->url;
  if (want.size >= resumable_size) {
    std::string body = "{\"_id\":" + json_string(id) + ",\"" + key_for(site_key::syncing, site) +
                       "\":" + std::to_string(env.ctx->now_ms()) + "}";
    (void)record(body);
  }
  env.guard.begin(want.reference);
  auto place = place_for(env, want, *row);
  if (!place) {
    env.guard.end(want.reference);
    return failed(std::move(place.error()));
  }
  bool aside = *place != want.reference;
  connectors::item_info info;
  info.reference = *place;
  info.kind = connectors::item_kind::file;
  info.mode = 0644;
  info.mtime_ns = want.mtime_ms * 1000000;
  // A large file's ETag is kept while it travels, so that after a restart the copy resumes
  // with Range from its temporary file instead of starting over.
  auto part_key = env.part_prefix + want.reference;
  std::string etag;
  uint64_t resume = 0;
  if (auto kept = env.ctx->db().get_meta(part_key); kept && *kept) {
    etag = std::move(**kept);
    resume = UINT64_MAX;
  }
  // Kept for a file large enough by the origin's account now (the version published may have
  // been caught while the file was being written, smaller).
  std::function<void(const std::string&, uint64_t)> started;
  bool kept = !etag.empty();
  if (!aside)
    started = [&](const std::string& tag, uint64_t size) {
      if (size < resumable_size || tag == etag) return;
      kept = true;
      if (auto err = env.ctx->db().put_meta(part_key, tag))
        spdlog::debug("site: keeping the ETag of {}: {}", want.reference, render(err));
    };
  auto got = w.fetcher->fetch(content_url(*base, want.reference), *env.volume, info,
                              aside ? 0 : resume, aside ? std::string{} : etag, started);
  using connectors::connector_errc;
  bool resumable = !got && (connectors::is(got.error(), connector_errc::network) ||
                            connectors::is(got.error(), connector_errc::busy) ||
                            connectors::is(got.error(), connector_errc::cancelled));
  if (!resumable && kept)
    if (auto err = env.ctx->db().erase_meta(part_key))
      spdlog::debug("site: forgetting the ETag of {}: {}", want.reference, render(err));
  if (!got) {
    env.guard.end(want.reference);
    return failed(std::move(got.error()));
  }
  out.received = got->received;
  if (aside) {
    // The local file keeps the name and its row; the next scan publishes both.
    env.guard.end(want.reference);
    out.synced = want.time;
    return out;
  }
  auto st = env.volume->stat(want.reference);
  storage::write_batch batch{env.ctx->db()};
  if (st && *st)
    rows.put(batch, env.scope, row_of(want.reference, (*st)->size, (*st)->mtime_ns, want.time));
  auto written = env.ctx->db().write(batch);
  env.guard.end(want.reference);
  if (written) {
    out.err = std::move(written);
    out.retry = true;
    return out;
  }
  out.synced = want.time;
  return out;
}

// --- start ---------------------------------------------------------------------------------

start_outcome run_start(site_env& env, worker& w) {
  start_outcome out;
  auto own_id = volume_element_id(env.cfg.name);
  auto got = w.tracker->read({own_id, global_parameters_id});
  if (!got) {
    out.err = std::move(got.error());
    return out;
  }
  if (!(*got)[0]) {
    // First start: the configuration seeds the switches; the element wins after that.
    auto made = w.tracker->create(volume_seed_body(env.cfg.name, env.live_now()));
    if (!made) {
      out.err = std::move(made.error());
      return out;
    }
    if (made->status != 201 && made->status != 409) {
      out.err = answer_error(*made, "making " + own_id);
      return out;
    }
  } else {
    out.own = connectors::flatten_element(*(*got)[0]);
  }
  if ((*got)[1]) out.global = connectors::flatten_element(*(*got)[1]);
  std::string url = env.cfg.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto now = env.ctx->now_ms();
  auto status = volume_status_body(
      env.cfg.name, {status_text("name", env.cfg.name),
                     status_text("url", url + "/api/content/" + env.cfg.volume_id),
                     status_text("agentStatus", "on"), status_number("agentStartTime", now),
                     status_text("agentVersion", env.cfg.agent_version)});
  auto r = w.tracker->sync_state(status);
  if (!r) {
    out.err = std::move(r.error());
  } else if (r->status != 200) {
    out.err = answer_error(*r, "recording the status of " + own_id);
  }
  return out;
}

}  // namespace syncline::actors::site_detail
