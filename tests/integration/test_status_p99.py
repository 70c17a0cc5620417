#!/usr/bin/env python3
"""The status page's per-backend p99 (README, Live status page: "p99 time to the response
head over the last minute (`p99_ms_1m`)"): a backend that answers after ~300 ms and one that
answers at once each get a p99 in the right range, in GET /upstreams and in the page drawn
by headless Chromium (status_page_cells.mjs), and the slow one's is the higher. The p99 is
the upper bound of a histogram bucket (0.1 ms .. 10 s), and the ranges are wide: a busy
machine adds latency."""
import http.client
import json
import threading

from harness import free_port, http_request, run

SLOW_MS = 300           # falls in the (250, 500] ms bucket: p99 >= 500
SLOW_REQUESTS = 24      # 4 clients x 6
FAST_REQUESTS = 100


def backends_by_upstream(admin_port):
    r = http_request(admin_port, "GET", "/upstreams", timeout=5)
    return {u["name"]: u["backends"][0] for u in r.json()["upstreams"]}


def test(h):
    fast, slow = h.backend("fast"), h.backend("slow")
    port, admin_port = free_port(), free_port()
    h.balancer(f"""\
workers: 2
shutdown_timeout: 2s
admin: {{ address: 127.0.0.1:{admin_port} }}
listeners:
  - {{ name: public, address: 127.0.0.1:{port} }}
upstreams:
  fast:
    backends: [{{ address: 127.0.0.1:{fast.port} }}]
    request_timeout: 20s
  slow:
    backends: [{{ address: 127.0.0.1:{slow.port} }}]
    request_timeout: 20s
routes:
  - match: {{ path_prefix: /fast }}
    upstream: fast
    strip_prefix: /fast
  - match: {{ path_prefix: /slow }}
    upstream: slow
""", port)
    fast_address, slow_address = f"127.0.0.1:{fast.port}", f"127.0.0.1:{slow.port}"

    with h.step("no answers yet: no p99"):
        state = backends_by_upstream(admin_port)
        h.expect_eq(state["fast"]["p99_ms_1m"], 0, "fast p99 before any request")
        h.expect_eq(state["slow"]["p99_ms_1m"], 0, "slow p99 before any request")

    with h.step(f"traffic: {FAST_REQUESTS} at once to fast, {SLOW_REQUESTS} of {SLOW_MS} ms to slow"):
        statuses = []
        lock = threading.Lock()

        def slow_client():
            for _ in range(SLOW_REQUESTS // 4):
                r = http_request(port, "GET", f"/slow?ms={SLOW_MS}", timeout=30)
                with lock:
                    statuses.append((r.status, r.header("X-Backend")))

        clients = [threading.Thread(target=slow_client) for _ in range(4)]
        for c in clients:
            c.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(FAST_REQUESTS):
            r = http_request(port, "GET", "/fast/headers", conn=conn)
            statuses.append((r.status, r.header("X-Backend")))
        conn.close()
        for c in clients:
            c.join(timeout=60)
        h.expect_eq(sorted(set(statuses)), [(200, "fast"), (200, "slow")], "answers")
        h.expect_eq(len(statuses), FAST_REQUESTS + SLOW_REQUESTS, "answers counted")

    with h.step("GET /upstreams: each backend's p99 in its range, slow above fast"):
        state = backends_by_upstream(admin_port)
        fast_p99, slow_p99 = state["fast"]["p99_ms_1m"], state["slow"]["p99_ms_1m"]
        print(f"   p99_ms_1m: fast {fast_p99}, slow {slow_p99}")
        h.expect(0 < fast_p99 <= 250, f"fast p99 {fast_p99} ms in (0, 250]")
        h.expect(500 <= slow_p99 <= 2500, f"slow p99 {slow_p99} ms in [500, 2500]")
        h.expect(slow_p99 > fast_p99, f"slow p99 {slow_p99} > fast p99 {fast_p99}")
        h.expect(state["fast"]["requests_per_second_1m"] > 0, "fast has a request rate")

    with h.step("the page shows the same p99s per backend"):
        r = h.node("status_page_cells.mjs", f"http://127.0.0.1:{admin_port}/", 2, timeout=60)
        h.expect_eq(r.returncode, 0, f"status_page_cells.mjs exit code ({r.stderr[-1500:]})")
        page = json.loads(r.stdout.strip().splitlines()[-1])
        h.expect_eq(page["error"], "", "no error shown")
        column = next((c for c in page["columns"] if c.startswith("p99")), None)
        h.expect(column is not None, f"a p99 column in the header: {page['columns']}")
        shown = {row["address"]: row["cells"].get(column, "") for row in page["rows"]}
        print(f"   page p99 column: {shown}")

        def shown_ms(address):
            text = shown.get(address, "")
            return float(text.removesuffix(" ms")) if text.endswith(" ms") else None

        def same(address, p99):  # the page shows one decimal: 0.25 ms is "0.3 ms"
            ms = shown_ms(address)
            return ms is not None and abs(ms - p99) <= 0.05 + 1e-9

        h.expect(same(fast_address, fast_p99),
                 f"fast row's p99 {shown.get(fast_address)!r} is the API's {fast_p99}")
        h.expect(same(slow_address, slow_p99),
                 f"slow row's p99 {shown.get(slow_address)!r} is the API's {slow_p99}")


if __name__ == "__main__":
    run(test)
