// actors/text.hpp: bytes made safe for the texts the node writes: UTF-8 checks, JSON string
// literals, Prometheus label values, paths that climb. One copy for the actors and the HTTP layer above them.
#pragma once

#include <string>
#include <string_view>

namespace syncline::actors {

/// Whether `s` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

/// `bytes` with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD, so it
/// can be written into JSON (messages quote paths and other client bytes).
std::string printable(std::string_view bytes);

/// `s` as a JSON string literal, quotes included (invalid UTF-8 replaced by U+FFFD).
std::string json_string(std::string_view s);

/// `s` as a Prometheus label value, without the quotes: `\`, `"` and newlines escaped (text
/// format 0.0.4).
std::string prometheus_label(std::string_view s);

/// Whether a `/`-separated segment of `path` is `.` or `..` (a path that could name another
/// place than it reads); empty segments are not.
bool has_dot_segment(std::string_view path) noexcept;

}  // namespace syncline::actors
