// tests/fuzz/config_fuzz.cpp: the TOML configuration reader (runtime/node_config.hpp) on any
// bytes as a file. It must never crash or hang, and a file it refuses gets a message a person
// can act on: `invalid_config` naming where (`fuzz.toml:line:col` or a key).
#include <string>

#include "actors/tracker_json.hpp"
#include "runtime/error.hpp"
#include "runtime/node_config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace syncline;
  auto cfg = runtime::parse_config(fuzz::text(data, size), "fuzz.toml");
  if (cfg) return 0;
  fuzz::require(cfg.error() == runtime::runtime_errc::invalid_config,
                "a refused configuration is not invalid_config");
  fuzz::require(!actors::error_message(cfg.error()).empty(), "a refusal has no message");
  return 0;
}
