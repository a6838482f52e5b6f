// Exposition formats served on /metrics: which one a scraper asked for (Accept header) and the
// Content-Type that goes with it.
#pragma once

#include <string_view>

namespace ringway::metrics {

enum class Format { kPrometheusText, kOpenMetrics };

inline constexpr std::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// Returns kOpenMetrics when the Accept header (RFC 9110 12.5.1) names
// application/openmetrics-text (version absent, 1.0.0 or 0.0.1) with q > 0 and with a q at least
// that of any explicit text/plain or text/* range; otherwise kPrometheusText, also for an empty or
// malformed header and for a bare */* (text is the format every scraper reads).
Format negotiate_format(std::string_view accept_header);

std::string_view content_type(Format f);

}  // namespace ringway::metrics
