// Request-target normalization (RFC 9112 §3.2, RFC 3986 §5.2.4): split path and query and
// remove dot segments safely, before routing and before a route prefix is accepted in config.
#pragma once

#include <string>
#include <string_view>


namespace ringway::net {

enum class TargetStatus { kOk, kBadRequest };

// Splits a request-target into path and query (without '?') and normalizes the path:
// - origin-form "/p?q"; absolute-form "http://host/p?q" (http/https, any case) is reduced
//   to its path (RFC 9112 §3.2.2), "/" when it has none. Anything else is kBadRequest
//   ("*" for OPTIONS is the caller's check).
// - dot segments are removed per RFC 3986 §5.2.4, with %2e/%2E counted as '.'; the result
//   never climbs above '/'. Nothing else changes: "//" stays, %2F stays, case stays.
// - rejects control bytes, space, '#', '%00' and '%' not followed by two hex digits
//   (path and query alike; the query is otherwise passed through untouched).
// Fast path: when the path needs no change, *path views `target` (or a static "/") and
// `scratch` is untouched; otherwise the normalized path is written into `scratch`
// (caller-owned and reused, so no allocation after warm-up). *query always views `target`.
TargetStatus normalize_target(std::string_view target, std::string& scratch, std::string_view* path,
                              std::string_view* query);

}  // namespace ringway::net
