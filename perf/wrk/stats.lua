-- wrk script for perf/compare: no per-request Lua (so wrk stays fast), only a
-- machine-readable summary with exact percentiles from wrk's own histogram
-- (microsecond resolution).
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "PERFJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
      "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d," ..
      "\"lat_mean_us\":%.1f,\"lat_max_us\":%d,\"p50_us\":%d,\"p90_us\":%d," ..
      "\"p99_us\":%d,\"p999_us\":%d}\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)))
end
