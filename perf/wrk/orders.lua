-- wrk script for perf/services: POST /api/orders with the token in PERF_TOKEN, then the
-- summary of stats.lua (PERF_STATS_LUA names it).
wrk.method = "POST"
wrk.path = "/api/orders"
wrk.body = string.format('{"id_produk":%s,"jumlah":1}', os.getenv("PERF_PRODUCT") or "1")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("PERF_TOKEN")
dofile(os.getenv("PERF_STATS_LUA"))
