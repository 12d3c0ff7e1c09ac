#include "actors/connector_factory.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "connectors/error.hpp"
#include "connectors/fault_volume.hpp"
#include "connectors/http_source.hpp"
#include "connectors/local_source.hpp"
#include "connectors/local_volume.hpp"
#include "connectors/null_volume.hpp"
#include "connectors/synthetic_source.hpp"
#include "storage/credential_store.hpp"

namespace syncline::actors {

namespace {

// A datasource's place in the node's encrypted wallet.
class stored_credentials final : public connectors::credential_wallet {
 public:
  stored_credentials(storage::credential_store& store, std::string datasource)
      : store_(store), datasource_(std::move(datasource)) {}
  caf::expected<std::optional<std::string>> load() override { return store_.get(datasource_); }
  caf::expected<bool> replace(const std::string& before, const std::string& now) override {
    return store_.replace(datasource_, before, now);
  }

 private:
  storage::credential_store& store_;
  std::string datasource_;
};

}  // namespace

caf::expected<std::shared_ptr<connectors::source>> make_source(const datasource_config& c,
                                                               storage::credential_store* wallet) {
  using connectors::connector_errc;
  if (c.type == "folder") {
    connectors::local_source_options o;
    o.root = c.path;
    o.include = c.include;
    o.exclude = c.exclude;
    auto s = connectors::local_source::make(std::move(o));
    if (!s) return std::move(s.error());
    return std::shared_ptr<connectors::source>{std::move(*s)};
  }
  if (c.type == "synthetic") {
    connectors::synthetic_source_options o;
    o.seed = c.seed;
    o.count = c.count;
    o.directories = c.directories;
    o.min_size = c.min_size;
    o.max_size = c.max_size;
    o.change_rate = c.change_rate;
    auto s = connectors::synthetic_source::make(o);
    if (!s) return std::move(s.error());
    return std::shared_ptr<connectors::source>{std::move(*s)};
  }
  if (c.type == "http") {
    auto& h = c.http;
    connectors::http_source_options o;
    o.url = h.url;
    if (!connectors::http_paging_from_string(h.paging, o.paging))
      return connectors::make_error(connector_errc::bad_config,
                                    "paging must be one of none, next_url, cursor, link_header, "
                                    "page, offset, got '" + h.paging + "'");
    o.items_pointer = h.items;
    o.next_pointer = h.next;
    o.cursor_param = h.cursor_param;
    o.page_param = h.page_param;
    o.first_page = h.first_page;
    o.offset_param = h.offset_param;
    o.limit_param = h.limit_param;
    o.page_size = h.page_size;
    o.reference_pointer = h.reference;
    o.size_pointer = h.size;
    o.mtime_pointer = h.mtime;
    o.mtime_unit = h.mtime_unit;
    o.hash_pointer = h.hash;
    o.content_pointer = h.content;
    o.content_url = h.content_url;
    o.include = c.include;
    o.exclude = c.exclude;
    o.allow_insecure = h.allow_insecure;
    o.ca_file = h.ca_file;
    o.timeout = std::chrono::seconds{h.timeout_s};
    o.requests_per_s = h.requests_per_s;
    o.busy_retries = static_cast<uint32_t>(std::min<uint64_t>(h.busy_retries, 1000));
    if (!connectors::http_auth_from_string(h.auth, o.auth))
      return connectors::make_error(connector_errc::bad_config,
                                    "auth must be one of none, bearer, basic, header, oauth2, got '" +
                                        h.auth + "'");
    o.token_url = h.token_url;
    if (wallet != nullptr) o.wallet = std::make_shared<stored_credentials>(*wallet, c.id);
    auto s = connectors::http_source::make(std::move(o));
    if (!s) return std::move(s.error());
    return std::shared_ptr<connectors::source>{std::move(*s)};
  }
  return connectors::make_error(connector_errc::bad_config,
                                "datasource " + c.id + ": unknown type '" + c.type +
                                    "' (expected folder, synthetic or http)");
}

caf::expected<std::shared_ptr<connectors::volume>> make_volume(const volume_config& c) {
  using connectors::connector_errc;
  if (c.type == "directory") {
    connectors::local_volume_options o;
    o.root = c.path;
    auto v = connectors::local_volume::make(std::move(o));
    if (!v) return std::move(v.error());
    return std::shared_ptr<connectors::volume>{std::move(*v)};
  }
  if (c.type == "null") return std::shared_ptr<connectors::volume>{new connectors::null_volume};
  if (c.type == "fault") {
    connectors::local_volume_options o;
    o.root = c.path;
    auto inner = connectors::local_volume::make(std::move(o));
    if (!inner) return std::move(inner.error());
    connectors::fault_volume_options f;
    auto op = connectors::fault_operation_from_string(c.fault_operation);
    if (!op)
      return connectors::make_error(connector_errc::bad_config,
                                    "volume " + c.id + ": unknown fault operation '" +
                                        c.fault_operation + "'");
    f.operation = *op;
    f.error = c.fault_errno;
    f.references = c.fault_glob;
    if (c.fault_count > 0) f.times = c.fault_count;
    auto v = connectors::fault_volume::make(std::shared_ptr<connectors::volume>{std::move(*inner)},
                                            std::move(f));
    if (!v) return std::move(v.error());
    return std::shared_ptr<connectors::volume>{std::move(*v)};
  }
  return connectors::make_error(connector_errc::bad_config,
                                "volume " + c.id + ": unknown type '" + c.type +
                                    "' (expected directory, fault or null)");
}

}  // namespace syncline::actors
