#include "actors/directory_actor.hpp"

#include <chrono>
#include <map>
#include <memory>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/error.hpp"

namespace syncline::actors {

struct directory_state {
  static const char* name;
  std::map<std::string, directory_entry> entries;
  std::map<caf::actor_addr, std::string> by_address;
  std::chrono::milliseconds timeout{5000};
};

const char* directory_state::name = "directory";

namespace {

// Collects the children's answers; delivers once all have answered (or failed).
struct tree_collector {
  caf::typed_response_promise<actor_status> promise;
  actor_status result;
  size_t outstanding = 0;
  void done() {
    if (--outstanding == 0) promise.deliver(std::move(result));
  }
};

}  // namespace

directory_actor::behavior_type directory(directory_actor::stateful_pointer<directory_state> self,
                                         std::chrono::milliseconds status_timeout) {
  self->state.timeout = status_timeout;
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    auto i = s.by_address.find(dm.source);
    if (i == s.by_address.end()) return;
    auto e = s.entries.find(i->second);
    // Only drop the entry if it still names the actor that died (not its replacement).
    if (e != s.entries.end() && e->second.handle.address() == dm.source) s.entries.erase(e);
    s.by_address.erase(i);
  });
  return {
      [=](register_atom, directory_entry& entry) {
        auto& s = self->state;
        self->monitor(entry.handle);
        s.by_address[entry.handle.address()] = entry.id;
        s.entries[entry.id] = std::move(entry);
      },
      [=](unregister_atom, const std::string& id) { self->state.entries.erase(id); },
      [=](find_atom, const std::string& id) -> caf::result<caf::actor> {
        auto& s = self->state;
        auto i = s.entries.find(id);
        if (i == s.entries.end()) return make_error(actors_errc::unknown_id, "no actor " + id);
        return i->second.handle;
      },
      [=](list_atom) -> std::vector<directory_entry> {
        std::vector<directory_entry> out;
        for (auto& [id, e] : self->state.entries) out.push_back(e);
        return out;
      },
      [=](tree_atom) -> caf::result<actor_status> {
        auto& s = self->state;
        auto c = std::make_shared<tree_collector>();
        c->promise = self->make_response_promise<actor_status>();
        c->result.id = "node";
        c->result.kind = "node";
        c->result.state = "running";
        c->result.counters["actors"] = static_cast<int64_t>(s.entries.size());
        if (s.entries.empty()) {
          c->promise.deliver(c->result);
          return c->promise;
        }
        c->outstanding = s.entries.size();
        c->result.children.resize(s.entries.size());
        size_t index = 0;
        for (auto& [id, e] : s.entries) {
          auto slot = index++;
          // High priority, and a caf::duration timeout: a std::chrono one drops the priority
          // in CAF 0.17.6 (CAF-0.17.md, section 6).
          self->request<caf::message_priority::high>(e.handle, caf::duration{s.timeout},
                                                     status_atom::value)
              .then(
                  [c, slot](actor_status& st) {
                    c->result.children[slot] = std::move(st);
                    c->done();
                  },
                  [c, slot, id = e.id, kind = e.kind](caf::error& err) {
                    auto& child = c->result.children[slot];
                    child.id = id;
                    child.kind = kind;
                    // Entries of datasources are `datasource/<id>`: the views filter on it.
                    if (kind == "datasource" && id.rfind("datasource/", 0) == 0)
                      child.datasource = id.substr(11);
                    child.state = "unreachable";
                    child.last_error = render(err);
                    c->done();
                  });
        }
        return c->promise;
      },
      [=](status_atom) -> actor_status {
        actor_status out;
        out.id = "directory";
        out.kind = "directory";
        out.state = "running";
        out.mailbox = self->mailbox().size();
        out.counters["entries"] = static_cast<int64_t>(self->state.entries.size());
        return out;
      },
  };
}

directory_actor spawn_directory(caf::actor_system& sys, std::chrono::milliseconds status_timeout) {
  return sys.spawn(directory, status_timeout);
}

}  // namespace syncline::actors
