#!/usr/bin/env python3
"""Request and response bodies pass through unchanged, whatever their size and framing."""
import os

from backend import deterministic_bytes
from harness import run, sha256, simple_config

KIB, MIB = 1024, 1024 * 1024
SIZES = {"0 B": 0, "1 KiB": KIB, "10 MiB": 10 * MIB}


def test(h):
    backend = h.backend("a")
    lb = h.balancer(simple_config(0, [backend.port], workers=2, request_timeout="20s",
                                  extra_top="limits: { max_body_size: 64MiB }"))

    for method in ("GET", "POST"):
        for label, size in SIZES.items():
            for chunked in (False, True):
                framing = "chunked" if chunked else "content-length"
                with h.step(f"{method} {label} body, {framing} -> echoed byte for byte"):
                    data = os.urandom(size)
                    r = lb.request(method, "/echo", body=data, chunked=chunked, timeout=30)
                    h.expect_eq(r.status, 200, f"status (body {r.body[:200]!r})")
                    h.expect_eq(r.header("X-Echo-Body-Sha256"), sha256(data),
                                "sha256 of the body the backend received")
                    h.expect_eq((len(r.body), sha256(r.body)), (size, sha256(data)),
                                "(length, sha256) of the echoed body")

    with h.step("POST 10 MiB chunked, echoed with a chunked response"):
        data = os.urandom(10 * MIB)
        r = lb.request("POST", "/echo?chunked=1", body=data, chunked=True, timeout=30)
        h.expect_eq(r.status, 200, "status")
        h.expect_eq((len(r.body), sha256(r.body)), (len(data), sha256(data)), "echoed body")

    expected = deterministic_bytes(10 * MIB)
    for chunked in ("0", "1"):
        framing = "chunked" if chunked == "1" else "content-length"
        with h.step(f"10 MiB response with {framing}"):
            r = lb.get(f"/bytes?n={10 * MIB}&chunked={chunked}", timeout=30)
            h.expect_eq(r.status, 200, "status")
            h.expect_eq((len(r.body), sha256(r.body)), (len(expected), sha256(expected)),
                        "(length, sha256) of the body")


if __name__ == "__main__":
    run(test)
