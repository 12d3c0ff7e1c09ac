#include "runtime/page_routes.hpp"

#include <string>
#include <utility>

#include "runtime/page_assets.hpp"

namespace syncline::runtime {

namespace {

// The page may load and connect to this node only; nothing inline runs (a script injected into
// the page through data it shows would not); no other page may frame it (clickjacking of its
// buttons); a form posts nowhere else.
constexpr const char* content_security_policy =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

}  // namespace

void add_page_routes(http_router& router) {
  for (auto& asset : page_assets()) {
    router.add("GET", std::string{asset.path}, [&asset](http_request, http_reply reply) {
      http_response r;
      r.content_type = std::string{asset.content_type};
      r.body = std::string{asset.body};
      r.headers.emplace_back("Content-Security-Policy", content_security_policy);
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      r.headers.emplace_back("X-Frame-Options", "DENY");
      r.headers.emplace_back("Referrer-Policy", "same-origin");
      r.headers.emplace_back("Cache-Control", "no-cache");
      reply.send(std::move(r));
    });
  }
}

}  // namespace syncline::runtime
