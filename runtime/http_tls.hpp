// runtime/http_tls.hpp: the HTTP server's TLS context, from its certificate and key files.
#pragma once

#include <optional>

#include <boost/asio/ssl/context.hpp>
#include <caf/expected.hpp>

#include "runtime/http_server.hpp"

namespace syncline::runtime::detail {

/// No context when `o` names neither file; else one serving TLS 1.2 and above with the
/// certificate chain and its key, or `listen_failed` naming the file (or the setting) that
/// cannot be used: one of the two missing, unreadable, or a key not of the certificate.
[[nodiscard]] caf::expected<std::optional<boost::asio::ssl::context>> tls_context(
    const http_server_options& o);

}  // namespace syncline::runtime::detail
