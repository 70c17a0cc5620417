-- wrk script for perf/compare: no per-request Lua (so wrk stays fast), only a
-- machine-readable summary with exact percentiles from wrk's own histogram
-- (microsecond resolution).  "curve" is the latency at a series of percentiles
-- (50 up to 99.999, then the maximum): perf/report plots it as the latency distribution.
local CURVE = {0, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.75, 99.9, 99.95, 99.975, 99.99,
               99.995, 99.999}

done = function(summary, latency, requests)
   local e = summary.errors
   local curve = {}
   for _, p in ipairs(CURVE) do
      curve[#curve + 1] = string.format("[%g,%d]", p, latency:percentile(p))
   end
   curve[#curve + 1] = string.format("[100,%d]", latency.max)
   io.write(string.format(
      "PERFJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
      "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d," ..
      "\"lat_mean_us\":%.1f,\"lat_max_us\":%d,\"p50_us\":%d,\"p90_us\":%d," ..
      "\"p99_us\":%d,\"p999_us\":%d,\"curve\":[%s]}\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), table.concat(curve, ",")))
end
