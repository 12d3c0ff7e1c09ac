// runtime/api_errors.hpp: the one map from the error codes of the layers below to HTTP statuses.
#pragma once

#include <caf/error.hpp>

#include "actors/messages.hpp"
#include "runtime/http_message.hpp"

namespace syncline::runtime {

/// The HTTP status an error stands for, by its code (never by its text): actors'
/// `bad_request` 400, `unauthenticated` 401, `forbidden` 403, `unknown_id` 404, `paused`,
/// `forbidden_transition`, `already_exists`, `conflict` 409, `shutting_down`, `busy` 503; storage's
/// `invalid_argument`, `invalid_json`, `invalid_element` 400, `not_found` 404,
/// `already_exists`, `locked_by_other` 409, `busy`, `closed` 503; CAF's request timeout and
/// receiver down 503; anything else 500.
unsigned http_status_of(const caf::error& err) noexcept;

/// The API's error answer for `err`: its status, the code that goes with it (`bad_request`,
/// `unauthorized`, ...) and the error's text. A 500 is logged.
http_response error_response(const caf::error& err);

/// The HTTP form of an API actor's answer: its error as above, else its JSON with 200
/// (`done`), 201 (`created`), 202 (`accepted`) or 207 (`partial`). A revoked token also clears the `token`
/// cookie; an issued one (signIn) sets it, for the token's lifetime. The cookie is HttpOnly,
/// SameSite=Strict, Path=/, and `Secure` when `secure_cookie` (the node serves HTTPS).
http_response to_http(actors::api_answer answer, bool secure_cookie = false);

}  // namespace syncline::runtime
