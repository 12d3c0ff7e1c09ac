// tests/connectors/http_source_test.cpp: the http datasource's connector against a real JSON API
// on loopback (tests/connectors/json_service.hpp): every paging style through 10,000 items,
// content with ranges and verification, and the answers that must end a listing or a fetch.
#define BOOST_TEST_MODULE connectors_http_source
#include <boost/test/unit_test.hpp>

#include <string>

#include "connectors/error.hpp"
#include "connectors/http_source.hpp"
#include "connectors/http_stream.hpp"
#include "tests/connectors/connector_test_util.hpp"
#include "tests/connectors/json_service.hpp"

using namespace syncline::connectors;
using namespace syncline::test;

namespace {

// The service's items as the connector is told to read them.
http_source_options options_for(const json_service& s, const std::string& style) {
  http_source_options o;
  o.url = s.base() + "/" + style;
  o.reference_pointer = "/path";
  o.size_pointer = "/size";
  o.mtime_pointer = "/mtime";
  o.hash_pointer = "/xxh3";
  o.content_pointer = "/url";
  if (style == "next") {
    o.paging = http_paging::next_url;
    o.items_pointer = "/items";
    o.next_pointer = "/next";
  } else if (style == "cursor") {
    o.paging = http_paging::cursor;
    o.items_pointer = "/data/files";
    o.next_pointer = "/cursor";
    o.cursor_param = "cursor";
  } else if (style == "link") {
    o.paging = http_paging::link_header;
  } else if (style == "page") {
    o.paging = http_paging::page;
  } else if (style == "offset") {
    o.paging = http_paging::offset;
  }
  if (style != "flat") {
    o.limit_param = "limit";
    o.page_size = 250;
  }
  return o;
}

std::unique_ptr<http_source> make_source(http_source_options o) {
  auto s = http_source::make(std::move(o));
  BOOST_REQUIRE_MESSAGE(s, reason(s));
  return std::move(*s);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_paging_style_lists_ten_thousand_items_in_order) {
  json_service service;
  char name[32];
  for (int i = 0; i < 10000; ++i) {
    std::snprintf(name, sizeof name, "d%02d/f%05d.txt", i % 17, (i * 7919) % 10000);
    service.files[name] = std::to_string(i);
  }
  for (auto* style : {"flat", "next", "cursor", "link", "page", "offset"}) {
    BOOST_TEST_CONTEXT(style) {
      auto src = make_source(options_for(service, style));
      auto items = list_all(*src, 1000);
      // 17 folders, implied by the paths, each before what it holds.
      BOOST_REQUIRE_EQUAL(items.size(), 10000u + 17u);
      BOOST_CHECK_EQUAL(items.front().reference, "d00/");
      BOOST_CHECK(items.front().kind == item_kind::directory);
      for (size_t k = 1; k < items.size(); ++k)
        BOOST_REQUIRE_MESSAGE(reference_less(items[k - 1].reference, items[k].reference),
                              items[k - 1].reference << " then " << items[k].reference);
      size_t files = 0;
      for (auto& i : items) {
        if (i.kind != item_kind::file) continue;
        ++files;
        auto& bytes = service.files.at(i.reference);
        BOOST_REQUIRE_EQUAL(i.size, bytes.size());
        BOOST_REQUIRE_EQUAL(i.mtime_ns, service.mtime_s * 1000000000);
        BOOST_REQUIRE(i.hash && *i.hash == XXH3_64bits(bytes.data(), bytes.size()));
      }
      BOOST_CHECK_EQUAL(files, 10000u);
    }
  }
  // 10,000 items at 250 a page: 40 pages (and one empty page to end `page` and `offset`).
  BOOST_CHECK_EQUAL(service.listing_requests.load(), 1u + 40u + 40u + 40u + 41u + 41u);
}

BOOST_AUTO_TEST_CASE(content_is_fetched_whole_or_from_an_offset_and_verified) {
  json_service service;
  std::string big(3u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) >> 7);
  service.files["a/big.bin"] = big;
  service.files["a/small.txt"] = "small";
  service.files["b c/ü.txt"] = "named";
  auto o = options_for(service, "next");
  o.content_pointer.clear();
  o.content_url = service.base() + "/files/{/path}";  // a template this time
  auto src = make_source(o);
  REQUIRE_OK(src->check());
  BOOST_CHECK_EQUAL(list_all(*src).size(), 5u);
  for (auto& [path, bytes] : service.files) {
    BOOST_TEST_CONTEXT(path) {
      auto r = src->open(path, 0);
      BOOST_REQUIRE_MESSAGE(r, reason(r));
      BOOST_CHECK_EQUAL((*r)->info().size, bytes.size());
      BOOST_CHECK(read_all(**r, 100000) == bytes);
      auto changed = (*r)->changed();
      BOOST_REQUIRE_MESSAGE(changed, reason(changed));
      BOOST_CHECK(!*changed);
    }
  }
  // From an offset: a range; a service that ignores ranges: the copied part is skipped.
  for (bool ignore : {false, true}) {
    service.ignore_ranges = ignore;
    auto r = src->open("a/big.bin", 1000001);
    BOOST_REQUIRE_MESSAGE(r, reason(r));
    BOOST_CHECK(read_all(**r, 65536) == big.substr(1000001));
    auto changed = (*r)->changed();
    BOOST_REQUIRE(changed);
    BOOST_CHECK(!*changed);
  }
  service.ignore_ranges = false;
  // A connection that breaks in the middle: the rest is asked for with a range, once.
  service.drop_once = true;
  auto before = service.content_requests.load();
  {
    auto r = src->open("a/big.bin", 0);
    BOOST_REQUIRE_MESSAGE(r, reason(r));
    BOOST_CHECK(read_all(**r, 65536) == big);
    auto changed = (*r)->changed();
    BOOST_REQUIRE_MESSAGE(changed, reason(changed));
    BOOST_CHECK(!*changed);
  }
  BOOST_CHECK_EQUAL(service.content_requests.load(), before + 2);
  {
    std::lock_guard<std::mutex> g{service.mtx};
    BOOST_CHECK_EQUAL(service.last_range, "bytes=" + std::to_string(big.size() / 2) + "-");
  }
  // Content that is not what the listing said: changed (size) or a hash mismatch.
  service.files["a/small.txt"] = "SMALL";
  {
    auto r = src->open("a/small.txt", 0);
    BOOST_REQUIRE(r);
    (void)read_all(**r);
    CHECK_ERRC((*r)->changed(), connector_errc::hash_mismatch);
  }
  service.files["a/small.txt"] = "longer now";
  {
    auto r = src->open("a/small.txt", 0);
    BOOST_REQUIRE(r);
    (void)read_all(**r);
    auto changed = (*r)->changed();
    BOOST_REQUIRE(changed);
    BOOST_CHECK(*changed);
  }
  // Gone between the listing and the fetch; never listed; not a file.
  service.files.erase("a/small.txt");
  CHECK_ERRC(src->open("a/small.txt", 0), connector_errc::not_found);
  CHECK_ERRC(src->open("zz/none.txt", 0), connector_errc::not_found);
  CHECK_ERRC(src->stat("zz/none.txt"), connector_errc::not_found);
  CHECK_ERRC(src->open("a/", 0), connector_errc::invalid_path);
  CHECK_ERRC(src->open("../x", 0), connector_errc::invalid_path);
  auto st = src->stat("a/big.bin");
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->size, big.size());
}

BOOST_AUTO_TEST_CASE(a_bad_page_or_refused_credentials_end_the_listing_with_a_clear_error) {
  json_service service;
  for (int i = 0; i < 10; ++i) service.files["f" + std::to_string(i)] = "x";
  auto o = options_for(service, "cursor");
  o.page_size = 3;
  auto src = make_source(o);
  service.malformed_page = 2;
  auto l = src->list();
  BOOST_REQUIRE(!l);
  BOOST_CHECK(is(l.error(), connector_errc::io_error));
  BOOST_CHECK_MESSAGE(render(l.error()).find("page 2 is not JSON") != std::string::npos, render(l.error()));
  service.malformed_page = 0;
  REQUIRE_OK(src->list());
  // Items not where the settings say.
  auto wrong = o;
  wrong.items_pointer = "/data/nothing";
  auto w = make_source(wrong)->list();
  BOOST_REQUIRE(!w);
  BOOST_CHECK_MESSAGE(render(w.error()).find("no array of items at '/data/nothing'") != std::string::npos,
                      render(w.error()));
  // A token the service does not take.
  service.bearer = "right";
  auto with = o;
  with.headers = {"Authorization: Bearer wrong"};
  CHECK_ERRC(make_source(with)->list(), connector_errc::permission_denied);
  with.headers = {"Authorization: Bearer right"};
  REQUIRE_OK(make_source(with)->list());
  // Settings refused before anything is asked.
  auto bad = o;
  bad.url = "ftp://x";
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
  bad = o;
  bad.next_pointer.clear();
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
  bad = o;
  bad.content_pointer.clear();
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
  bad = o;
  bad.url = "http://192.0.2.1/list";
  bad.headers = {"Authorization: Bearer x"};
  CHECK_ERRC(http_source::make(bad), connector_errc::bad_config);
}

// The service's limits: 429/503 waited out as Retry-After says (then the request goes on), a
// request rate kept, and a service busy for longer than the retries allow is `busy`.
BOOST_AUTO_TEST_CASE(a_busy_service_is_waited_out_and_requests_are_paced) {
  json_service service;
  for (int i = 0; i < 7; ++i) service.files["f" + std::to_string(i)] = std::string(100, 'a' + i);
  auto o = options_for(service, "page");
  o.page_size = 3;
  auto src = make_source(o);
  service.busy_next = 2;  // the first page, twice
  auto items = list_all(*src);
  BOOST_CHECK_EQUAL(items.size(), 7u);
  BOOST_CHECK_EQUAL(service.busy_answers.load(), 2u);
  BOOST_CHECK_EQUAL(service.listing_requests.load(), 4u);  // 3 pages and the empty one
  service.busy_next = 1;
  service.retry_after = "";  // no header: a second's backoff
  auto r = src->open("f3", 0);
  BOOST_REQUIRE_MESSAGE(r, reason(r));
  BOOST_CHECK_EQUAL(read_all(**r), std::string(100, 'd'));
  BOOST_CHECK_EQUAL(service.busy_answers.load(), 3u);
  // Busy for longer than the retries allow.
  auto impatient = o;
  impatient.busy_retries = 1;
  auto quick = make_source(impatient);
  service.busy_next = 2;
  service.retry_after = "0";
  CHECK_ERRC(quick->list(), connector_errc::busy);

  // Retry-After as seconds or an HTTP date, capped; nonsense is ignored.
  using namespace std::chrono_literals;
  BOOST_CHECK(detail::retry_after("3", 300s) == 3s);
  BOOST_CHECK(detail::retry_after("86400", 300s) == 300s);
  BOOST_CHECK(detail::retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 300s) == 0s);
  BOOST_CHECK(!detail::retry_after("soon", 300s));
  BOOST_CHECK(detail::busy_backoff(1) == 1s && detail::busy_backoff(3) == 4s && detail::busy_backoff(30) == 60s);
  // Four requests a second: slots a quarter of a second apart, whoever asks.
  detail::request_pacer pacer{4.0};
  auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK(pacer.reserve(t0) == t0);
  BOOST_CHECK(pacer.reserve(t0) == t0 + 250ms);
  BOOST_CHECK(pacer.reserve(t0 + 100ms) == t0 + 500ms);
  BOOST_CHECK(pacer.reserve(t0 + 2s) == t0 + 2s);
  detail::request_pacer unlimited{0};
  BOOST_CHECK(unlimited.reserve(t0) == t0 && unlimited.reserve(t0) == t0);
}
