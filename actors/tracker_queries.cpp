// actors/tracker_queries.cpp: the tracker's reads (read, search, search_one, search_mongo,
// graph), its sign-in and tokens (signIn, createToken, verify), and the one entry point that
// runs any operation.
#include "actors/tracker_ops.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <unordered_set>
#include <utility>

#include <spdlog/spdlog.h>

#include "storage/element_json.hpp"
#include "storage/element_query.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"

namespace syncline::actors::detail {

namespace {

using storage::user_class;

api_answer bad_request(std::string message) {
  return refuse(actors_errc::bad_request, std::move(message));
}

api_answer op_read(const tracker_services& s, const tracker_command& req, const principal&) {
  auto ids = request_ids(s, req);
  if (!ids) return answer_error(ids.error());
  if (auto bad = check_ids(ids->ids, true)) return std::move(*bad);
  // Empty ids cannot exist; the store refuses them, so they are left out of the call.
  std::vector<std::string> wanted;
  wanted.reserve(ids->ids.size());
  for (auto& id : ids->ids)
    if (!id.empty()) wanted.push_back(id);
  std::vector<std::optional<std::string>> found;
  if (wanted.size() == 1 && ids->ids.size() == 1) {
    auto one = s.elements->get(wanted.front());
    if (!one) return answer_error(one.error());
    found.push_back(std::move(*one));
  } else if (!wanted.empty()) {
    auto many = s.elements->read(wanted);
    if (!many) return answer_error(many.error());
    found = std::move(*many);
  }
  size_t hits = 0, k = 0;
  std::vector<std::optional<std::string>> all(ids->ids.size());
  for (size_t i = 0; i < ids->ids.size(); ++i) {
    if (ids->ids[i].empty()) continue;
    all[i] = std::move(found[k++]);
    hits += all[i].has_value();
  }
  if (hits == 0)
    return refuse(actors_errc::unknown_id,
                          ids->ids.size() == 1 ? "no element " + ids->ids.front()
                                               : std::string{"none of the ids exists"});
  if (!ids->array && all.size() == 1) return answer_json(answer_kind::done, std::move(*all.front()));
  std::string body = "[";
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) body += ',';
    body += all[i] ? *all[i] : std::string{"null"};
  }
  body += ']';
  return answer_json(hits < all.size() ? answer_kind::partial : answer_kind::done, std::move(body));
}

// damas-core collapses runs of white space and trims the query.
std::string normalize_query(std::string_view q) {
  std::string out;
  bool space = false;
  for (char c : q) {
    bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The refusal of an answer of `count` ids, more than `[api] max_answer_ids`.
api_answer too_many_ids(const tracker_services& s, const std::string& what, uint64_t count) {
  return bad_request(what + " holds " + std::to_string(count) + " ids, more than the " +
                     std::to_string(s.settings.max_answer_ids) +
                     " one answer may hold ([api] max_answer_ids): page through them with "
                     "POST /api/search_mongo and its limit and skip");
}

api_answer op_search(const tracker_services& s, const tracker_command& req, const principal&, bool one) {
  auto q = normalize_query(req.arg);
  if (q.empty() || q == "undefined") return bad_request("search needs a query");
  auto query = storage::element_query::parse_text(q);
  if (!query) return answer_error(query.error());
  storage::search_options opts;
  // One more than may be answered: the count says how many there are in all.
  opts.limit = one ? 1 : s.settings.max_answer_ids + 1;
  auto found = storage::search(*s.elements, *query, opts);
  if (!found) return answer_error(found.error());
  if (!one && found->count > s.settings.max_answer_ids)
    return too_many_ids(s, "the answer of this search", found->count);
  if (one) {
    if (found->ids.empty()) return answer_json(answer_kind::done, "null");
    auto got = s.elements->get(found->ids.front());
    if (!got) return answer_error(got.error());
    return answer_json(answer_kind::done, *got ? std::move(**got) : std::string{"null"});
  }
  std::string body = "[";
  body.reserve(found->ids.size() * 32 + 2);
  for (size_t i = 0; i < found->ids.size(); ++i) {
    if (i > 0) body += ',';
    storage::append_json_string(body, found->ids[i]);
  }
  body += ']';
  return answer_json(answer_kind::done, std::move(body));
}

api_answer op_search_mongo(const tracker_services& s, const tracker_command& req, const principal&) {
  auto parsed = parse_mongo_request(req.body, req.form_body);
  if (!parsed) return answer_error(parsed.error());
  auto query = storage::element_query::parse_mongo(parsed->query_json);
  if (!query) return answer_error(query.error());
  auto max = s.settings.max_answer_ids;
  if (parsed->options.limit > max)
    return bad_request("limit " + std::to_string(parsed->options.limit) + " is more than the " +
                       std::to_string(max) + " ids one answer may hold ([api] max_answer_ids)");
  bool unbounded = parsed->options.limit == 0;
  if (unbounded) parsed->options.limit = max + 1;
  auto found = storage::search(*s.elements, *query, parsed->options);
  if (!found) return answer_error(found.error());
  if (unbounded && found->ids.size() > max)
    return too_many_ids(s, "the answer of this search (without limit)", found->count);
  std::string body = "{\"count\":" + std::to_string(found->count) + ",\"ids\":[";
  for (size_t i = 0; i < found->ids.size(); ++i) {
    if (i > 0) body += ',';
    storage::append_json_string(body, found->ids[i]);
  }
  body += "]}";
  return answer_json(answer_kind::done, std::move(body));
}

// Nodes and the edges that lead to them: each level finds the edges whose `tgt_id` is one of
// the nodes found so far and adds their `src_id` nodes (`forwards`: the edges whose `src_id`
// is one, adding their `tgt_id` nodes). One scan of the elements per level. `graph` answers
// the elements; damas-core's graph_backwards and graph_forwards answer their ids.
api_answer op_graph(const tracker_services& s, const tracker_command& req, const principal&) {
  bool forwards = req.op == api_op::graph_forwards;
  bool ids_only = req.op != api_op::graph;
  const char* follow = forwards ? "src_id" : "tgt_id";
  const char* reach = forwards ? "tgt_id" : "src_id";
  int64_t depth = 0;
  if (!req.arg.empty()) {
    char* end = nullptr;
    depth = std::strtoll(req.arg.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || depth < 0)
      return bad_request("depth must be a number, 0 for no limit");
  }
  auto ids = request_ids(s, req);
  if (!ids) return answer_error(ids.error());
  if (auto bad = check_ids(ids->ids, false)) return std::move(*bad);
  constexpr int64_t max_levels = 64;
  std::vector<std::string> nodes = ids->ids;
  std::unordered_set<std::string> known(nodes.begin(), nodes.end());
  std::vector<std::string> frontier(known.begin(), known.end());
  std::vector<std::string> edges;  // JSON, in discovery order
  std::unordered_set<std::string> edge_ids;
  for (int64_t level = 0; !frontier.empty() && level < max_levels && (depth == 0 || level < depth);
       ++level) {
    std::string q = std::string{"{\""} + follow + "\":{\"$in\":[";
    for (size_t i = 0; i < frontier.size(); ++i) {
      if (i > 0) q += ',';
      storage::append_json_string(q, frontier[i]);
    }
    q += "]}}";
    frontier.clear();
    auto query = storage::element_query::parse_mongo(q);
    if (!query) return answer_error(query.error());
    auto found = storage::search(*s.elements, *query);
    if (!found) return answer_error(found.error());
    std::vector<std::string> fresh;
    for (auto& id : found->ids)
      if (edge_ids.insert(id).second) fresh.push_back(id);
    if (fresh.empty()) break;
    auto got = s.elements->read(fresh);
    if (!got) return answer_error(got.error());
    for (size_t i = 0; i < got->size(); ++i) {
      auto& json = (*got)[i];
      if (!json) continue;
      if (auto src = string_member(*json, reach); src && known.insert(*src).second) {
        nodes.push_back(*src);
        frontier.push_back(*src);
      }
      edges.push_back(ids_only ? fresh[i] : std::move(*json));
    }
    if (nodes.size() + edges.size() > s.settings.max_answer_ids)
      return bad_request("the graph holds more than the " +
                         std::to_string(s.settings.max_answer_ids) +
                         " nodes and edges one answer may hold ([api] max_answer_ids): ask for "
                         "a smaller depth, or walk it with POST /api/search_mongo "
                         "({\"tgt_id\": {\"$in\": [...]}}) and its limit and skip");
  }
  auto got = s.elements->read(nodes);
  if (!got) return answer_error(got.error());
  size_t missing = 0;
  std::string body = "[";
  bool first = true;
  for (size_t i = 0; i < got->size(); ++i) {
    auto& json = (*got)[i];
    missing += !json;
    if (ids_only && !json) continue;  // ids of what exists
    if (!first) body += ',';
    first = false;
    if (ids_only)
      storage::append_json_string(body, nodes[i]);
    else
      body += json ? *json : std::string{"null"};
  }
  for (auto& e : edges) {
    if (!first) body += ',';
    first = false;
    if (ids_only)
      storage::append_json_string(body, e);
    else
      body += e;
  }
  body += ']';
  if (missing == got->size() && edges.empty())
    return refuse(actors_errc::unknown_id, "none of the ids exists");
  return answer_json(missing > 0 ? answer_kind::partial : answer_kind::done, std::move(body));
}

// --- authentication -----------------------------------------------------------------------

// `"1d"`, `"2h"`, `"90"` (seconds: a JSON number), as damas-core's `expiresIn` (the `ms`
// package's spellings); nullopt when unreadable.
std::optional<std::chrono::milliseconds> token_lifetime(const tracker_services& s, std::string_view text,
                                                        bool number) {
  auto max = std::chrono::duration_cast<std::chrono::milliseconds>(s.settings.max_token_ttl);
  // The node refuses to start with token_ttl_s above max_token_ttl_s; the cap holds anyway.
  if (text.empty())
    return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(s.settings.token_ttl), max);
  if (text == "0") return max;  // damas-core: no expiry; here the longest allowed
  auto ms = parse_duration_ms(text, number);
  if (!ms || *ms <= 0) return std::nullopt;
  return std::min(std::chrono::milliseconds{*ms}, max);
}

// The user element with the token fields added (damas-core's signIn answer).
std::string sign_in_body(const storage::user_info& user, const storage::issued_token& token,
                         int64_t now_ms) {
  std::string body = "{";
  auto fields = storage::parse_stored(user.element_json);
  storage::append_json_string(body, "_id");
  body += ':';
  storage::append_json_string(body, user.id);
  if (fields) {
    for (auto& f : *fields) {
      if (f.key == "password" || f.key == "token" || f.key == "token_exp" ||
          f.key == "token_iat" || f.key == "user" || f.key == "username" || f.key == "class")
        continue;
      body += ',';
      storage::append_json_string(body, f.key);
      body += ':';
      body += f.value;
    }
  }
  body += ",\"username\":" + json_string(user.username);
  body += ",\"class\":" + json_string(storage::to_string(user.cls));
  body += ",\"token\":" + json_string(token.token);
  body += ",\"token_exp\":" + std::to_string(token.expires_ms / 1000);
  body += ",\"token_iat\":" + std::to_string(now_ms / 1000);
  body += ",\"user\":" + (user.element_json.empty() ? std::string{"null"} : user.element_json);
  body += '}';
  return body;
}

api_answer op_sign_in(const tracker_services& s, const tracker_command& req) {
  auto form = parse_credentials(req.body, req.form_body);
  if (!form) return answer_error(form.error());
  if (form->username.empty() || form->password.empty())
    return bad_request("signIn needs username (or email) and password");
  auto ttl = token_lifetime(s, form->expires_in, form->expires_in_is_number);
  if (!ttl) return bad_request("expiresIn " + form->expires_in + " is not a duration (1d, 2h, 30m, 60s)");
  auto user = s.users->authenticate(form->username, form->password);
  if (!user) {
    if (storage::is(user.error(), storage::storage_errc::not_found) ||
        storage::is(user.error(), storage::storage_errc::invalid_argument))
      return refuse(actors_errc::unauthenticated, error_message(user.error()));
    return answer_error(user.error());
  }
  auto now = storage::epoch_ms();
  auto token = s.users->issue_token(user->username, ttl->count(), now);
  if (!token) return answer_error(token.error());
  auto answer = answer_json(answer_kind::done, sign_in_body(*user, *token, now));
  answer.issued_token = token->token;
  answer.issued_token_ttl_s = std::max<int64_t>(0, (token->expires_ms - now) / 1000);
  return answer;
}

api_answer op_create_token(const tracker_services& s, const tracker_command& req, const principal& who) {
  if (who.anonymous) return refuse(actors_errc::unauthenticated, "sign in first");
  auto form = parse_credentials(req.body, req.form_body);
  if (!form) return answer_error(form.error());
  auto ttl = token_lifetime(s, form->expires_in, form->expires_in_is_number);
  if (!ttl) return bad_request("expiresIn " + form->expires_in + " is not a duration");
  auto now = storage::epoch_ms();
  auto lifetime = ttl->count();
  // A token cannot outlive the one that made it (a stolen short-lived token must not mint a
  // year-long one); admins may, to make a scraper's token.
  if (who.cls != user_class::admin) {
    if (who.token_expires_ms <= now)
      return refuse(actors_errc::unauthenticated, "invalid, expired or revoked token");
    lifetime = std::min<int64_t>(lifetime, who.token_expires_ms - now);
  }
  auto token = s.users->issue_token(who.name, lifetime, now);
  if (!token) return answer_error(token.error());
  return answer_json(answer_kind::done, json_string(token->token));
}


api_answer dispatch(const tracker_services& s, const tracker_command& cmd, const principal& who) {
  switch (cmd.op) {
    case api_op::create: return op_create(s, cmd, who);
    case api_op::read: return op_read(s, cmd, who);
    case api_op::update: return op_update_or_upsert(s, cmd, who, false);
    case api_op::upsert: return op_update_or_upsert(s, cmd, who, true);
    case api_op::remove: return op_delete(s, cmd, who);
    case api_op::search: return op_search(s, cmd, who, false);
    case api_op::search_one: return op_search(s, cmd, who, true);
    case api_op::search_mongo: return op_search_mongo(s, cmd, who);
    case api_op::graph:
    case api_op::graph_backwards:
    case api_op::graph_forwards: return op_graph(s, cmd, who);
    case api_op::comment: return op_comment(s, cmd, who);
    case api_op::publish: return op_publish(s, cmd, who);
    case api_op::version: return op_version(s, cmd, who);
    case api_op::lock: return op_lock_or_unlock(s, cmd, who, true);
    case api_op::unlock: return op_lock_or_unlock(s, cmd, who, false);
    case api_op::sign_in: return op_sign_in(s, cmd);
    case api_op::create_token: return op_create_token(s, cmd, who);
    case api_op::sync_state: return op_sync_state(s, cmd, who);
    case api_op::verify:
    case api_op::sign_out:
    case api_op::changes:  // the actor answers these itself
      break;
  }
  return refuse(actors_errc::job_failed, "operation not handled here");
}

}  // namespace

// No exception may leave a handler or a pool job (STYLE.md); one becomes job_failed.
api_answer run_tracker_op(const tracker_services& s, const tracker_command& cmd,
                          const principal& who) {
  try {
    return dispatch(s, cmd, who);
  } catch (const std::exception& e) {
    spdlog::error("tracker: {} failed: {}", to_string(cmd.op), e.what());
  } catch (...) {
    spdlog::error("tracker: {} failed", to_string(cmd.op));
  }
  return refuse(actors_errc::job_failed, "the request failed on the server");
}

std::string verify_json(const principal& who) {
  if (who.anonymous)
    return "{\"anonymous\":true,\"username\":null,\"class\":" +
           json_string(storage::to_string(who.cls)) + "}";
  auto fields = storage::parse_stored(who.element_json);
  std::string body = "{\"_id\":" + json_string("@" + who.name);
  if (fields)
    for (auto& f : *fields) {
      if (f.key == "username" || f.key == "class" || f.key == "password" || f.key == "token_exp")
        continue;
      body += ',';
      storage::append_json_string(body, f.key);
      body += ':';
      body += f.value;
    }
  body += ",\"username\":" + json_string(who.name);
  body += ",\"class\":" + json_string(storage::to_string(who.cls));
  // When the token presented expires, in seconds as signIn's `token_exp`.
  if (who.token_expires_ms > 0)
    body += ",\"token_exp\":" + std::to_string(who.token_expires_ms / 1000);
  body += '}';
  return body;
}

bool touches_users(const tracker_command& cmd, const principal& who) {
  if (who.cls != user_class::admin) return false;  // only admins may write `@` ids
  switch (cmd.op) {
    case api_op::create:
    case api_op::update:
    case api_op::upsert:
    case api_op::remove:
      return cmd.body.find("\"@") != std::string::npos || cmd.body.find('\\') != std::string::npos;
    default:
      return false;
  }
}

bool slow_op(api_op op) noexcept {
  switch (op) {
    case api_op::search:
    case api_op::search_one:
    case api_op::search_mongo:
    case api_op::graph:
    case api_op::graph_backwards:
    case api_op::graph_forwards:
    case api_op::version:
    case api_op::sign_in:
      return true;
    default:
      return false;
  }
}

}  // namespace syncline::actors::detail
