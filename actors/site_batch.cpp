// actors/site_batch.cpp: small files from one origin, several per request (docs/sites.md,
// "Transfers"): one request and one authentication per batch, one RocksDB write for its rows.
#include <cstdlib>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/site_jobs.hpp"
#include "actors/site_keys.hpp"
#include "actors/text.hpp"
#include "connectors/error.hpp"
#include "storage/database.hpp"

namespace syncline::actors::site_detail {

namespace {

// The answer carries at most this much (the origin stops at 16 MiB).
constexpr size_t max_answer_bytes = size_t{32} << 20;

// The batch route beside a content route: `<base>/api/content/site` ->
// `<base>/api/content_batch/site`; empty when the URL is not of that shape.
std::string batch_url(const std::string& content) {
  static const std::string part = "/api/content/";
  auto at = content.rfind(part);
  if (at == std::string::npos) return {};
  return content.substr(0, at) + "/api/content_batch/" + content.substr(at + part.size());
}

// Writes one received file under its name (a temporary file renamed into place), with the
// origin's modification time (`mtime_ns`, the file as it was read there).
caf::error put_file(site_env& env, const wanted_copy& want, std::string_view bytes, int64_t mtime_ns) {
  connectors::item_info info;
  info.reference = want.reference;
  info.kind = connectors::item_kind::file;
  info.mode = 0644;
  info.size = bytes.size();
  info.mtime_ns = mtime_ns;
  auto opened = env.volume->open_writer(info, 0);
  if (!opened) return std::move(opened.error());
  auto& w = **opened;
  if (auto err = w.write(bytes.data(), bytes.size())) {
    w.abort();
    return err;
  }
  return w.commit(info);
}

}  // namespace

std::vector<fetch_outcome> run_fetch_batch(site_env& env, worker& w,
                                           const std::vector<wanted_copy>& wants) {
  std::vector<fetch_outcome> outs(wants.size());
  auto& rows = env.ctx->rows();
  // What goes in the request: files with no local content the index does not know.
  std::vector<size_t> plain;
  for (size_t i = 0; i < wants.size(); ++i) {
    auto& want = wants[i];
    auto row = rows.get(env.scope, want.reference);
    auto st = env.volume->stat(want.reference);
    if (!row || !st) {
      outs[i] = run_fetch(env, w, want);
      continue;
    }
    bool recorded = *st && *row && as_recorded(**st, **row);
    if (recorded && (*row)->generation >= static_cast<uint64_t>(want.time)) {
      outs[i].synced = static_cast<int64_t>((*row)->generation);  // held already
      continue;
    }
    if (recorded && same_version(**row, want)) {
      outs[i] = run_fetch(env, w, want);  // held already as this version: recorded so
      continue;
    }
    if (*st && !recorded) {
      outs[i] = run_fetch(env, w, want);  // local changes: kept as a conflict there
      continue;
    }
    plain.push_back(i);
  }
  if (plain.empty()) return outs;
  auto alone = [&](const std::vector<size_t>& which) {
    for (auto i : which) outs[i] = run_fetch(env, w, wants[i]);
  };
  auto from = origin_of(env, w, wants[plain.front()].origin);
  std::string url = from && from->emitting ? batch_url(from->url) : std::string{};
  if (url.empty()) {
    alone(plain);  // which records why, or waits for emission
    return outs;
  }
  std::string body = "[";
  for (auto i : plain) body += (body.size() > 1 ? "," : "") + json_string(wants[i].reference);
  body += ']';
  for (auto i : plain) env.guard.begin(wants[i].reference);
  auto got = w.fetcher->read(url, max_answer_bytes, &body);
  if (!got) {
    for (auto i : plain) env.guard.end(wants[i].reference);
    if (connectors::is(got.error(), connectors::connector_errc::not_found)) {
      alone(plain);
      return outs;
    }
    if (connectors::is(got.error(), connectors::connector_errc::cancelled) ||
        connectors::is(got.error(), connectors::connector_errc::busy)) {
      // Stopping, or the origin sends as much as its syncAmountEmission allows: asked again
      // shortly, and nothing is recorded against the files.
      for (auto i : plain) {
        outs[i].retry = true;
        outs[i].err = got.error();
      }
      return outs;
    }
    // The origin out of reach: every file records the failure (one request), and is retried.
    auto code = rsync_code(got.error());
    auto now = env.ctx->now_ms();
    std::string failures = "[";
    for (auto i : plain) {
      if (failures.size() > 1) failures += ',';
      failures += failed_body(element_id(wants[i].reference), env.cfg.name, code, now);
      outs[i].retry = true;
      outs[i].err = got.error();
    }
    failures += ']';
    if (auto r = w.tracker->sync_state(failures); !r)
      spdlog::debug("site: recording failures: {}", render(r.error()));
    return outs;
  }
  // The answer: for each file asked, in order, a header line and its bytes.
  std::string_view rest{*got};
  std::vector<size_t> again, written;
  storage::write_batch batch{env.ctx->db()};
  for (auto i : plain) {
    auto& want = wants[i];
    auto nl = rest.find('\n');
    auto head = nl == std::string_view::npos ? std::nullopt
                                             : connectors::flatten_element(rest.substr(0, nl));
    if (!head || head->text("path") != want.reference) {
      rest = {};  // out of step: the rest go alone
      again.push_back(i);
      continue;
    }
    rest.remove_prefix(nl + 1);
    if (auto error = head->text("error")) {
      again.push_back(i);  // a missing file, one too large...: the single way says it
      continue;
    }
    auto size = head->integer("size").value_or(-1);
    auto hash = head->text("xxh3").value_or("");
    if (size < 0 || static_cast<uint64_t>(size) > rest.size()) {
      rest = {};
      again.push_back(i);
      continue;
    }
    auto bytes = rest.substr(0, static_cast<size_t>(size));
    rest.remove_prefix(static_cast<size_t>(size));
    if (std::strtoull(hash.c_str(), nullptr, 16) != XXH3_64bits(bytes.data(), bytes.size())) {
      again.push_back(i);  // did not verify: fetched alone, which verifies again
      continue;
    }
    auto mtime_ns = head->integer("mtime_ns").value_or(want.mtime_ms * 1000000);
    if (auto err = put_file(env, want, bytes, mtime_ns)) {
      outs[i].err = std::move(err);
      outs[i].retry = true;
      continue;
    }
    auto st = env.volume->stat(want.reference);
    if (st && *st)
      rows.put(batch, env.scope, row_of(want.reference, (*st)->size, (*st)->mtime_ns, want.time));
    outs[i].received = bytes.size();
    outs[i].synced = want.time;
    written.push_back(i);
  }
  if (auto err = env.ctx->db().write(batch)) {
    for (auto i : written) {
      outs[i].synced = 0;
      outs[i].retry = true;
      outs[i].err = err;
    }
  }
  for (auto i : plain) env.guard.end(wants[i].reference);
  alone(again);
  return outs;
}

}  // namespace syncline::actors::site_detail
