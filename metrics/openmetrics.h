// OpenMetrics 1.0.0 text exposition of prometheus-cpp's data model (prometheus-cpp 1.0.1 only
// writes the older Prometheus text format).
#pragma once

#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace ringway::metrics {

// Serializes families in order and terminates with "# EOF". Counter families are named without
// their _total suffix in # HELP/# TYPE and their samples carry it; histograms emit cumulative
// _bucket{le=...} lines ending at le="+Inf", then _count and _sum. Untyped families become
// "unknown", summaries are written as such (quantile label + _count/_sum).
std::string serialize_openmetrics(const std::vector<prometheus::MetricFamily>& families);

// OpenMetrics number: shortest round-trip form, ".0" appended to integral values (the canonical
// form for le labels), NaN/+Inf/-Inf spelled as the spec does.
void append_openmetrics_number(std::string& out, double v);

// Label values escape backslash, double quote and newline; HELP text escapes the same three.
void append_openmetrics_escaped(std::string& out, const std::string& s);

}  // namespace ringway::metrics
