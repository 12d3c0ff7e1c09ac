// tests/fuzz/datasource_api_fuzz.cpp: the datasource API's reader, on any bytes as
// `METHOD path-after-the-workspace\nbody`: the route (runtime/datasource_routes.hpp), then the
// body and the configuration keys as creating and changing a datasource read them
// (actors/datasource_api_ops.hpp, actors/datasource_schema.hpp). A refused route gets 400, 404
// or 405 with a message; a configuration the reader takes is one the schema checks.
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "actors/datasource_api_ops.hpp"
#include "actors/datasource_schema.hpp"
#include "runtime/datasource_routes.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace syncline;
using fuzz::require;

void read_config(const rapidjson::Document& d, actors::datasource_config cfg) {
  if (!actors::detail::apply_config(d, cfg).empty()) return;
  (void)actors::datasource_problem(cfg);
  (void)actors::volume_problem(cfg, {"v1", "v2"});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = fuzz::text(data, size);
  auto line_end = in.find('\n');
  auto line = in.substr(0, line_end);
  auto body = line_end == std::string_view::npos ? std::string_view{} : in.substr(line_end + 1);
  auto space = line.find(' ');
  if (space == std::string_view::npos) return 0;
  actors::datasource_command cmd;
  auto refused = runtime::read_datasource_route(line.substr(0, space), "c", "a", "w",
                                                line.substr(space + 1), cmd);
  if (refused) {
    require(refused->status == 400 || refused->status == 404 || refused->status == 405,
            "a refused route gets another status than 400, 404 or 405");
    require(!refused->body.empty(), "a refused route has no message");
    return 0;
  }
  require(cmd.container == "c" && cmd.account == "a" && cmd.workspace == "w",
          "the route reader changed the workspace");
  require(cmd.id.empty() || actors::id_problem(cmd.id).empty(),
          "the route reader let an invalid datasource id through");
  cmd.body = std::string{body};
  rapidjson::Document d;
  if (actors::detail::parse_body(cmd, d)) return 0;
  require(d.IsObject(), "a body read is not an object");
  // Creating: the defaults of a new datasource. Changing: a folder datasource as it was.
  actors::datasource_config fresh;
  fresh.id = "ds1";
  read_config(d, fresh);
  actors::datasource_config folder = fresh;
  folder.path = "/tmp";
  folder.volumes = {"v1"};
  read_config(d, folder);
  return 0;
}
