#!/usr/bin/env python3
"""Requests with a body on a pooled connection the backend closes as they arrive (its
keep-alive timeout crossing the request): the balancer sends them again on a fresh connection,
body and all, when the body was small enough to keep (64 KiB) and the request may be
repeated (an idempotent method, or an Idempotency-Key); otherwise the client gets 502 as
before, since the backend may have processed it.

The backend serves one request per connection and closes the connection when the next
request arrives on it, unread: every request after the first meets a stale pooled connection."""
import hashlib

from harness import free_port, run, simple_config

POOL = "{ max_idle: 16, idle_timeout: 30s }"


def test(h):
    backend = h.backend("one", max_requests_per_conn=1)
    port = free_port()
    lb = h.balancer(simple_config(port, [backend.port], pool=POOL, retries=0), port)

    def send(what, method, body, headers=(), chunks=None):
        """The response, after checking that the backend dropped the request once on a stale
        connection (the case under test). The request goes in one write, so that the balancer
        has it whole, head and body, when the backend closes; `chunks`: a chunked body."""
        # A GET first leaves a pooled connection with one request served (a 502 closes the
        # one there was): the request below finds it closed.
        h.expect_eq(lb.get("/warm", timeout=10).status, 200, f"{what}: a GET before")
        before = backend.stats()
        head = f"{method} /echo HTTP/1.1\r\nHost: t\r\n".encode()
        head += b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in headers)
        if chunks is None:
            wire = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        else:
            wire = (head + b"Transfer-Encoding: chunked\r\n\r\n" +
                    b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n")
        conn = lb.raw(timeout=10)
        try:
            conn.send(wire)
            r = conn.read_response(timeout=10)
        finally:
            conn.sock.close()
        after = backend.stats()
        h.expect_eq(after["dropped"] - before["dropped"], 1,
                    f"{what}: requests the backend dropped on a stale pooled connection")
        r.answered = after["proxied"] - before["proxied"]
        return r

    def expect_echoed(r, body, what):
        h.expect_eq(r.status, 200, f"{what}: status")
        h.expect_eq(r.header("X-Echo-Body-Sha256"), hashlib.sha256(body).hexdigest(),
                    f"{what}: sha256 of the body the backend got")
        h.expect(r.body == body, f"{what}: the echoed body differs ({len(r.body)} bytes: "
                                 f"{r.body[:120]!r})")

    with h.step("PUT with a body: 200 from the retry, the backend got the body byte-exact"):
        for n in (1, 1000, 20000):
            body = bytes((i * 7 + n) % 256 for i in range(n))
            expect_echoed(send(f"PUT {n} B", "PUT", body), body, f"PUT {n} B")

    with h.step("POST with an Idempotency-Key: 200 from the retry"):
        body = b'{"product_id": 1, "quantity": 2}'
        r = send("POST with a key", "POST", body, headers=[("Idempotency-Key", "order-42")])
        expect_echoed(r, body, "POST with Idempotency-Key")

    with h.step("POST without an Idempotency-Key: 502, not sent twice"):
        r = send("POST without a key", "POST", b'{"product_id": 1}')
        h.expect_eq(r.status, 502, "POST without Idempotency-Key on a stale connection")
        h.expect_eq(r.json()["error"], "upstream closed the connection", "its error")
        h.expect_eq(r.answered, 0, "POSTs the backend answered")

    with h.step("PUT with a body over the 64 KiB replay limit: 502 (it was not kept)"):
        r = send("PUT 100 KiB", "PUT", b"L" * (100 * 1024))
        h.expect_eq(r.status, 502, "PUT of 100 KiB on a stale connection")
        h.expect_eq(r.answered, 0, "PUTs the backend answered")

    with h.step("chunked PUT: 200, the backend got the same body"):
        chunks = [b"alpha-" * 10, b"b" * 3000, b"\x00\xff\r\n0\r\n"]
        r = send("chunked PUT", "PUT", None, chunks=chunks)
        expect_echoed(r, b"".join(chunks), "chunked PUT")

    with h.step("a replay whose fresh connection is refused goes on to another backend"):
        # Round robin over the stale-closing backend and a closed port: the replay after the
        # stale close may pick the closed port; its body, kept whole, goes on to the next.
        port2 = free_port()
        lb2 = h.balancer(simple_config(port2, [backend.port, free_port()], pool=POOL,
                                       retries=2), port2)
        body = b"replayed twice " * 100
        for i in range(4):
            lb2.get("/warm", timeout=10)
            conn = lb2.raw(timeout=10)
            try:
                conn.send(b"PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(body), body))
                r = conn.read_response(timeout=10)
            finally:
                conn.sock.close()
            expect_echoed(r, body, f"PUT {i + 1}")


if __name__ == "__main__":
    run(test)
