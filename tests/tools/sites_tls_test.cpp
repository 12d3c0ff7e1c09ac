// Trust between nodes over TLS (docs/sites.md, "Trust and TLS"): a tracker T and the sites B
// and C, all serving HTTPS with one self-made certificate (made here with the openssl command)
// that the sites trust through `[site] ca_file`. A file made at B reaches C byte for byte, so the
// feed, the bookkeeping and the content route all went over TLS; plain HTTP to a TLS node gets no
// answer; a site that does not trust the certificate says so in its log; a node with half a TLS
// setting, or a key of another certificate, does not start and names what to fix.
#define BOOST_TEST_MODULE tools_sites_tls
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <memory>
#include <string>
#include <vector>

#include "connectors/error.hpp"
#include "connectors/tracker_client.hpp"
#include "tests/tools/site_nodes.hpp"

using namespace syncline::test;
using namespace syncline::test::sites;
using syncline::connectors::tracker_client;
using syncline::connectors::tracker_options;

namespace {

struct certificate {
  std::filesystem::path cert, key;
};

// The openssl command, found on PATH (tools/dev.sh installs it with the test packages).
std::string openssl() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t at = 0;
  while (at <= dirs.size()) {
    auto end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    auto candidate = std::filesystem::path{dirs.substr(at, end - at)} / "openssl";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    at = end + 1;
  }
  BOOST_FAIL("the openssl command is not installed (bash tools/dev.sh test installs it)");
  return {};
}

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command.
certificate make_certificate(const std::filesystem::path& dir, const std::string& name) {
  certificate c{dir / (name + ".pem"), dir / (name + ".key")};
  child_process p{openssl(),
                  {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-days", "2", "-subj", "/CN=syncline test", "-addext",
                   "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", c.key.string(), "-out",
                   c.cert.string()}};
  auto st = p.wait_exit(bound);
  BOOST_REQUIRE_MESSAGE(st && st->code == 0, "openssl could not make a certificate:\n"
                                                 << p.output());
  return c;
}

std::string tls_toml(const certificate& c) {
  return "tls_cert = \"" + c.cert.string() + "\"\ntls_key = \"" + c.key.string() + "\"\n";
}

std::unique_ptr<tracker_client> client(uint16_t port, const std::string& token,
                                       const certificate& trusted) {
  tracker_options o;
  o.url = "https://127.0.0.1:" + std::to_string(port);
  o.token = token;
  o.ca_file = trusted.cert.string();
  o.timeout = std::chrono::seconds{20};
  return std::make_unique<tracker_client>(std::move(o));
}

std::string sign_in(tracker_client& c, const std::string& user, const std::string& password) {
  auto r = c.call("POST", "/api/signIn",
                  R"({"username":")" + user + R"(","password":")" + password + R"("})");
  // (Boost.Test builds the message even when the check passes: only an error is rendered.)
  BOOST_REQUIRE_MESSAGE(r, "sign-in over https failed: "
                               << (r ? std::string{} : syncline::connectors::render(r.error())));
  BOOST_REQUIRE_MESSAGE(r->status == 200, r->status << " " << r->body);
  return member(r->body, "token");
}

}  // namespace

BOOST_AUTO_TEST_CASE(sites_sync_over_https_with_a_self_made_certificate) {
  temp_dir root{"sites-tls"};
  auto cert = make_certificate(root.path(), "node");
  node_process t{root / "T", "", tls_toml(cert)};
  BOOST_REQUIRE_MESSAGE(t.proc->output().find("listening on https://127.0.0.1:") != std::string::npos,
                        t.proc->output());

  // Users and tokens over https, as any client would.
  auto anonymous = client(t.port, "", cert);
  auto admin = client(t.port, sign_in(*anonymous, "root", admin_password), cert);
  auto made = admin->create(R"({"_id":"@support","class":"editor","password":"pw-support"})");
  BOOST_REQUIRE(made);
  BOOST_REQUIRE_MESSAGE(made->status == 201, made->status << " " << made->body);
  auto token_file = root / "support.token";
  write_file(token_file, sign_in(*anonymous, "support", "pw-support") + "\n");
  ::chmod(token_file.c_str(), 0600);

  // Plain HTTP to the TLS port: no answer (the handshake fails and the connection closes).
  int plain = 0;
  try {
    plain = api_client{t.port}.get("/health").status;
  } catch (const std::exception&) {
    plain = -1;
  }
  BOOST_CHECK_NE(plain, 200);

  const std::string tracker_url = "https://127.0.0.1:" + std::to_string(t.port);
  const std::string trust = "ca_file = \"" + cert.cert.string() + "\"\n";
  node_process b{root / "B", site_toml("B", root / "B" / "volume", tracker_url, token_file, trust),
                 tls_toml(cert)};
  node_process c{root / "C", site_toml("C", root / "C" / "volume", tracker_url, token_file, trust),
                 tls_toml(cert)};
  std::string bytes = pseudo_random(700 * 1024, 11);
  write_file(root / "B" / "volume" / "secret" / "s.bin", bytes);

  std::string e;
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          auto r = admin->read({"/secret/s.bin"});
                          e = r && r->size() == 1 && (*r)[0] ? *(*r)[0] : std::string{};
                          return int_of(e, "synced_C") > 0;
                        }, bound),
                        "never synced to C over https: " << e << "\nB:\n" << b.proc->output()
                                                         << "\nC:\n" << c.proc->output());
  BOOST_CHECK_EQUAL(int_of(e, "synced_C"), int_of(e, "time"));
  BOOST_CHECK(read_file(root / "C" / "volume" / "secret" / "s.bin") == bytes);
  // B's volume element tells the others an https URL.
  auto vol = admin->read({"site/B"});
  BOOST_REQUIRE(vol && vol->size() == 1 && (*vol)[0]);
  BOOST_CHECK_EQUAL(member(*(*vol)[0], "url").rfind("https://127.0.0.1:", 0), 0u);

  // A site that does not trust the certificate reaches nothing, and its log says why.
  node_process d{root / "D", site_toml("D", root / "D" / "volume", tracker_url, token_file, ""),
                 tls_toml(cert)};
  auto said = d.proc->wait_for_line("certificate", bound);
  BOOST_CHECK_MESSAGE(said, "D never named the certificate problem:\n" << d.proc->output());
  BOOST_CHECK(!std::filesystem::exists(root / "D" / "volume" / "secret" / "s.bin"));
}

// Half a TLS setting, an unreadable certificate, or a key of another certificate: the node does
// not start and names what to fix.
BOOST_AUTO_TEST_CASE(bad_tls_settings_are_refused_at_start) {
  temp_dir root{"sites-tls-bad"};
  auto one = make_certificate(root.path(), "one");
  auto two = make_certificate(root.path(), "two");
  for (auto [http, words] : std::vector<std::pair<std::string, std::string>>{
           {"tls_cert = \"" + one.cert.string() + "\"\n", "tls_key"},
           {"tls_cert = \"" + (root / "none.pem").string() + "\"\ntls_key = \"" +
                one.key.string() + "\"\n",
            "none.pem"},
           {"tls_cert = \"" + one.cert.string() + "\"\ntls_key = \"" + two.key.string() + "\"\n",
            "two.key"}}) {
    {
      std::ofstream cfg{root / "node.toml"};
      cfg << "[node]\ndata_dir = \"" << (root / "data").string()
          << "\"\n[http]\nlisten = \"127.0.0.1:0\"\n"
          << http;
    }
    child_process n{binary(), {"node", "--config", (root / "node.toml").string()}};
    auto st = n.wait_exit(bound);
    BOOST_REQUIRE(st);
    BOOST_CHECK_NE(st->code, 0);
    BOOST_CHECK_MESSAGE(n.output().find(words) != std::string::npos, words << ":\n" << n.output());
  }
}
