#include "runtime/http_tls.hpp"

#include <openssl/ssl.h>

#include "runtime/error.hpp"

namespace syncline::runtime::detail {

namespace ssl = boost::asio::ssl;

caf::expected<std::optional<ssl::context>> tls_context(const http_server_options& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return std::optional<ssl::context>{};
  if (o.tls_cert_file.empty() || o.tls_key_file.empty())
    return make_error(runtime_errc::listen_failed,
                      "TLS needs both a certificate and its key ([http] tls_cert and tls_key)");
  std::optional<ssl::context> ctx{std::in_place, ssl::context::tls_server};
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec)
    return make_error(runtime_errc::listen_failed, "cannot use the TLS certificate " +
                                                       o.tls_cert_file + " ([http] tls_cert): " +
                                                       ec.message());
  ctx->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec)
    return make_error(runtime_errc::listen_failed, "cannot use the TLS key " + o.tls_key_file +
                                                       " ([http] tls_key): " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return make_error(runtime_errc::listen_failed, "the TLS key " + o.tls_key_file +
                                                       " does not belong to the certificate " +
                                                       o.tls_cert_file);
  return ctx;
}

}  // namespace syncline::runtime::detail
