#define BOOST_TEST_MODULE actors_state_machines
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <utility>

#include "actors/error.hpp"
#include "actors/records.hpp"
#include "actors/state_machines.hpp"

using namespace syncline::actors;

// The specification, written out independently of actors/state_machines.cpp: seed 000's
// datasource statuses, seed 001's health and run states, and the moves ARCHITECTURE.md allows.
// Every pair of distinct states is checked against it, both ways.
namespace {

using edge = std::pair<std::string, std::string>;

const std::set<edge> datasource_spec = {
    {"created", "pending"},  {"created", "invited"},  {"created", "paused"},
    {"created", "error"},    {"invited", "pending"},  {"invited", "created"},
    {"pending", "syncing"},  {"pending", "paused"},   {"pending", "error"},
    {"syncing", "synced"},   {"syncing", "failed"},   {"syncing", "error"},
    {"syncing", "paused"},   {"synced", "pending"},   {"synced", "syncing"},
    {"synced", "paused"},    {"synced", "error"},     {"failed", "pending"},
    {"failed", "syncing"},   {"failed", "paused"},    {"failed", "error"},
    {"error", "pending"},    {"error", "syncing"},    {"error", "paused"},
    {"paused", "resuming"},  {"resuming", "syncing"}, {"resuming", "pending"},
    {"resuming", "synced"},  {"resuming", "paused"},  {"resuming", "failed"},
    {"resuming", "error"},
};

const std::set<edge> health_spec = {
    {"pending", "healthy"}, {"pending", "failed"},   {"pending", "disabled"},
    {"healthy", "failed"},  {"healthy", "disabled"}, {"failed", "healthy"},
    {"failed", "disabled"}, {"disabled", "pending"},
};

const std::set<edge> run_spec = {
    {"started", "querying"},     {"started", "paused"},      {"started", "failed"},
    {"querying", "queued"},      {"querying", "paused"},     {"querying", "failed"},
    {"queued", "in_progress"},   {"queued", "paused"},       {"queued", "failed"},
    {"in_progress", "success"},  {"in_progress", "paused"},  {"in_progress", "failed"},
    {"paused", "querying"},      {"paused", "queued"},       {"paused", "in_progress"},
    {"paused", "failed"},
};

template <class State, size_t N>
void walk(const State (&states)[N], const std::set<edge>& spec, const char* machine) {
  size_t allowed_seen = 0;
  for (auto from : states) {
    for (auto to : states) {
      if (from == to) continue;
      edge e{to_string(from), to_string(to)};
      bool expected = spec.count(e) != 0;
      BOOST_TEST_CONTEXT(machine << ": " << e.first << " -> " << e.second) {
        BOOST_CHECK_EQUAL(allowed(from, to), expected);
        auto err = check(from, to);
        BOOST_CHECK_EQUAL(static_cast<bool>(err), !expected);
        if (err) {
          BOOST_CHECK(is(err, actors_errc::forbidden_transition));
          auto text = render(err);
          BOOST_CHECK_NE(text.find(e.first), std::string::npos);
          BOOST_CHECK_NE(text.find(e.second), std::string::npos);
        }
      }
      allowed_seen += expected ? 1 : 0;
    }
  }
  // Every edge of the specification names real states.
  BOOST_CHECK_EQUAL(allowed_seen, spec.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(datasource_status_edges_match_the_specification) {
  walk(all_datasource_statuses, datasource_spec, "datasource");
}

BOOST_AUTO_TEST_CASE(health_edges_match_the_specification) {
  walk(all_sync_healths, health_spec, "health");
}

BOOST_AUTO_TEST_CASE(run_edges_match_the_specification) {
  walk(all_run_statuses, run_spec, "run");
  // Final states have no way out.
  for (auto to : all_run_statuses) {
    BOOST_CHECK(!allowed(run_status::success, to));
    BOOST_CHECK(!allowed(run_status::failed, to));
  }
}

BOOST_AUTO_TEST_CASE(wire_spellings_round_trip) {
  for (auto s : all_datasource_statuses)
    BOOST_CHECK(datasource_status_from_string(to_string(s)) == s);
  for (auto s : all_sync_healths) BOOST_CHECK(sync_health_from_string(to_string(s)) == s);
  BOOST_CHECK(!datasource_status_from_string("Syncing"));
  BOOST_CHECK_EQUAL(std::string{to_string(run_status::in_progress)}, "in_progress");
}

// A record's status and health move only through the tables; a person acting gives a
// datasource in error another chance, and touches nothing else.
BOOST_AUTO_TEST_CASE(records_move_through_the_tables) {
  datasource_record r;
  r.status = datasource_status::synced;
  BOOST_CHECK(!move_status(r, datasource_status::syncing));
  BOOST_CHECK(r.status == datasource_status::syncing);
  auto refused = move_status(r, datasource_status::resuming);
  BOOST_CHECK(is(refused, actors_errc::forbidden_transition));
  BOOST_CHECK(r.status == datasource_status::syncing);
  BOOST_CHECK(!move_status(r, datasource_status::syncing));  // staying is no move
  r.health = sync_health::disabled;
  BOOST_CHECK(move_health(r, sync_health::healthy));
  BOOST_CHECK(r.health == sync_health::disabled);
  BOOST_CHECK(!move_health(r, sync_health::pending));
  // A person acted.
  r.status = datasource_status::synced;
  r.last_error = "kept";
  BOOST_CHECK(!person_acted(r));
  BOOST_CHECK(r.status == datasource_status::synced);
  BOOST_CHECK_EQUAL(r.last_error, "kept");
  BOOST_CHECK(!move_status(r, datasource_status::error));
  r.run_failures = 3;
  BOOST_CHECK(person_acted(r));
  BOOST_CHECK(r.status == datasource_status::pending);
  BOOST_CHECK_EQUAL(r.run_failures, 0u);
  BOOST_CHECK(r.last_error.empty());
}
