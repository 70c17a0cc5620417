#!/usr/bin/env python3
"""The admin listener's live status page, driven in headless Chromium (Debian chromium through
npm playwright-core, status_page.mjs): it loads, lists the backends with their state and
traffic, a click on "drain" drains that backend (seen through GET /upstreams), and with 1,000
backends it renders only the rows on screen and still reaches the last one by scrolling."""
import json
import os
import shutil

from harness import free_port, http_request, port_accepts, run, simple_config

TOKEN = "status-page-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def page(h, url, shot, *args):
    r = h.node("status_page.mjs", url, shot, *args, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"status_page.mjs failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def upstream_backends(admin_port):
    r = http_request(admin_port, "GET", "/upstreams", headers=AUTH, timeout=5)
    return {b["address"]: b for u in r.json()["upstreams"] for b in u["backends"]}


def test(h):
    backends = [h.backend(name) for name in ("a", "b", "c")]
    port, admin_port = free_port(), free_port()
    extra = f"admin: {{ address: 127.0.0.1:{admin_port}, token: {TOKEN} }}"
    h.balancer(simple_config(port, [b.port for b in backends], workers=2, extra_top=extra), port)
    for _ in range(50):  # some traffic for the rates
        http_request(port, "GET", "/", timeout=5)
    addresses = [f"127.0.0.1:{b.port}" for b in backends]
    shot = h.dir / "status-page.png"

    with h.step("the page is served from the binary without a token"):
        r = http_request(admin_port, "GET", "/", timeout=5)
        h.expect_eq(r.status, 200, "GET /")
        h.expect(r.header("Content-Type", "").startswith("text/html"), "HTML")
        h.expect(b"/upstreams" in r.body, "the page polls /upstreams")

    with h.step("it lists every backend, and a drain click drains one"):
        info = page(h, f"http://127.0.0.1:{admin_port}/?token={TOKEN}", shot,
                    "--expect", 3, "--drain", addresses[1])
        h.expect_eq(info["backends"], 3, f"backends in the summary: {info}")
        h.expect_eq(sorted(info["addresses"]), sorted(addresses), "rows")
        h.expect_eq(info["error"], "", "no error shown")
        state = upstream_backends(admin_port)
        gone_or_draining = addresses[1] not in state or state[addresses[1]]["draining"]
        h.expect(gone_or_draining, f"{addresses[1]} draining after the click: {state.get(addresses[1])}")
        h.expect(shot.exists() and shot.stat().st_size > 5000, "a screenshot was taken")
        if os.environ.get("STATUS_PAGE_SCREENSHOT"):
            shutil.copy(shot, os.environ["STATUS_PAGE_SCREENSHOT"])

    with h.step("without the token the page says why instead of listing"):
        info = page(h, f"http://127.0.0.1:{admin_port}/", h.dir / "no-token.png", "--expect", 0)
        h.expect("401" in info["error"], f"error shown: {info['error']!r}")

    with h.step("1,000 backends: only the rows on screen exist, the last is reachable"):
        big_port, big_admin = free_port(), free_port()
        many = [free_port() for _ in range(1000)]  # nothing listens: no health check, no traffic
        h.balancer(simple_config(big_port, many, extra_top=f"admin: {{ address: 127.0.0.1:{big_admin} }}"),
                   big_port)
        info = page(h, f"http://127.0.0.1:{big_admin}/", h.dir / "many.png", "--expect", 1000,
                    "--scroll-to", f"127.0.0.1:{many[-1]}")
        h.expect_eq(info["backends"], 1000, "all listed in the summary")
        h.expect(info["rows_in_dom"] < 120, f"rows in the DOM: {info['rows_in_dom']}")
        h.expect(info["found"], "the last backend reached by scrolling")
        h.expect(info["render_ms"] < 10000, f"first render in {info['render_ms']} ms")


if __name__ == "__main__":
    run(test)
