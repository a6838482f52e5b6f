-- wrk script of the benchmark harness (bench/lib/bench_lib.sh): after the run, one line
-- "wrk_stats: BYTES P999_US" - wrk's --latency table stops at p99, and CPU per MB needs bytes.
done = function(summary, latency, requests)
  io.write(string.format("wrk_stats: %d %.0f\n", summary.bytes, latency:percentile(99.9)))
end
