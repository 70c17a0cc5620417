-- wrk script for perf/compare's jwt scenario, uncached row: every request carries the next of
-- N distinct valid tokens (file PERF_TOKENS, one per line), so with N well above the
-- balancer's per-worker token cache every request is a cache miss and a signature check.
-- The requests are formatted once in init(); request() only picks the next one.  The summary
-- is stats.lua's (PERF_STATS_LUA).  perf/compare warms up with the single token, so the
-- cache holds none of these when the measured run starts.
dofile(os.getenv("PERF_STATS_LUA"))

local reqs, n, i = {}, 0, 0

init = function(args)
   local headers = {}
   for k, v in pairs(wrk.headers) do headers[k] = v end
   for line in io.lines(os.getenv("PERF_TOKENS")) do
      if #line > 0 then
         headers["Authorization"] = "Bearer " .. line
         n = n + 1
         reqs[n] = wrk.format(nil, nil, headers)
      end
   end
   if n == 0 then error("no tokens in " .. tostring(os.getenv("PERF_TOKENS"))) end
end

request = function()
   i = i % n + 1
   return reqs[i]
end
