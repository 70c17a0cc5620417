"""user-service under a login attack: failed logins of one account are throttled across
instances (429 with a growing Retry-After after login.max_failures, a success resets), and
argon2 runs on a bounded queue of its own threads, so a login flood answers 503 with
Retry-After at once while /health and the JWKS stay fast."""
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fixture import Stores, call, dev_keys, run, start_service  # noqa: E402

FAILURES = 3  # login.max_failures, small to keep the test short


def login(port, email, password):
    return call(port, "POST", "/api/auth/login", {"email": email, "password": password})


def retry_after(r):
    value = r.header("Retry-After")
    return int(value) if value and value.isdigit() else None


def test(h):
    stores = Stores(h)
    key = dev_keys(h)
    limits = {"jwt.private_keys": key, "password.memory_kib": 1024, "password.iterations": 1,
              "login.max_failures": FAILURES, "login.backoff": "1s", "login.max_backoff": "4s"}
    a = start_service(h, "user-service", stores, **limits)
    b = start_service(h, "user-service", stores, **limits)  # a second instance, same Redis
    r = call(a.port, "POST", "/api/users", {"email": "Rina@Shop.test", "password": "right password"})
    h.expect_eq(r.status, 201, f"register {r.body!r}")

    rina_key = None
    with h.step(f"{FAILURES} failures spread over two instances lock the account: 429 on both"):
        for i in range(FAILURES):
            port = (a, b)[i % 2].port
            r = login(port, " rina@shop.TEST ", "wrong password")  # one account, however typed
            h.expect_eq(r.status, 401, f"failure {i + 1} {r.body!r}")
        for svc in (a, b):
            r = login(svc.port, "rina@shop.test", "right password")
            h.expect_eq(r.status, 429, f"{svc.port}: locked even with the right password {r.body!r}")
            h.expect_eq(retry_after(r), 1, "Retry-After of the first lock")
        keys = stores.redis_cli("--scan", "--pattern", "login:failures:*").split()
        h.expect_eq(len(keys), 1, f"one key per account: {keys}")
        rina_key = keys[0]
        h.expect("rina" not in rina_key, f"the account name is hashed: {rina_key}")
        ttl = int(stores.redis_cli("PTTL", rina_key))
        h.expect(ttl > 0, f"the key has a TTL: {ttl}")

    with h.step("each further failure doubles the lock: Retry-After grows"):
        seen = [1]
        for _ in range(2):
            time.sleep(seen[-1] + 0.1)
            r = login(b.port, "rina@shop.test", "wrong again")
            h.expect_eq(r.status, 401, f"failure after the lock {r.body!r}")
            r = login(a.port, "rina@shop.test", "right password")
            h.expect_eq(r.status, 429, f"locked again {r.body!r}")
            seen.append(retry_after(r))
        h.expect_eq(seen, [1, 2, 4], "Retry-After grows")
        r = login(a.port, "someone.else@shop.test", "wrong")
        h.expect_eq(r.status, 401, "another account is not locked")

    with h.step("guesses sent at once: no more than max_failures of them reach the password"):
        statuses = []

        def guess(port):
            statuses.append(login(port, "burst@shop.test", "wrong").status)

        threads = [threading.Thread(target=guess, args=(svc.port,), daemon=True)
                   for svc in (a, b) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        checked = statuses.count(401)
        h.expect(1 <= checked <= FAILURES, f"{checked} of 12 were checked ({sorted(statuses)})")
        h.expect_eq(statuses.count(429), 12 - checked, "the others were refused by the lock")

    with h.step("a success after the lock resets the count"):
        time.sleep(seen[-1] + 0.1)
        r = login(a.port, "rina@shop.test", "right password")
        h.expect_eq(r.status, 200, f"login after the lock {r.body!r}")
        h.expect_eq(stores.redis_cli("EXISTS", rina_key), "0", "the failures are forgotten")
        for i in range(FAILURES - 1):
            h.expect_eq(login(b.port, "rina@shop.test", "wrong").status, 401, f"failure {i + 1}")
        h.expect_eq(login(b.port, "rina@shop.test", "right password").status, 200,
                    "under the limit again: the count started from zero")

    with h.step("metrics count locked logins"):
        text = call(a.port, "GET", "/metrics").body.decode()
        h.expect("user_login_locked_total" in text, "user_login_locked_total exposed")

    # A slow hash (64 MiB) and a small queue: a flood fills it.
    flood = start_service(h, "user-service", stores, **{
        "jwt.private_keys": key, "password.memory_kib": 65536, "password.iterations": 3,
        "password.threads": 1, "password.queue": 4, "login.max_failures": 0})

    with h.step("a login flood: 503 with Retry-After past the queue; other requests stay fast"):
        rows = stores.psql("SELECT id FROM users WHERE lower(email) = 'rina@shop.test'")
        rina = int(rows[0][0])
        statuses = []
        lock = threading.Lock()
        stop = time.monotonic() + 6  # bounded in time as well as in requests

        def attacker(n):
            for i in range(25):
                if time.monotonic() > stop:
                    return
                r = login(flood.port, f"victim{n}-{i}@shop.test", "guess password")
                with lock:
                    statuses.append((r.status, retry_after(r)))

        threads = [threading.Thread(target=attacker, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        slowest = 0.0
        for _ in range(10):
            # /api/users/me needs the database: its work must not queue behind argon2.
            for path in ("/health", "/.well-known/jwks.json", "/api/users/me"):
                r = call(flood.port, "GET", path, timeout=5, user=rina)
                h.expect_eq(r.status, 200, f"{path} during the flood")
                slowest = max(slowest, r.elapsed)
            time.sleep(0.1)
        for t in threads:
            t.join(timeout=60)
        busy = [s for s in statuses if s[0] == 503]
        h.expect(len(busy) > 0, f"some logins answered 503: {sorted(set(statuses))}")
        h.expect(all(ra == 1 for _, ra in busy), "each 503 carries Retry-After")
        h.expect(all(s in (401, 503) for s, _ in statuses), f"statuses {sorted(set(statuses))}")
        h.expect(slowest < 0.5, f"slowest other request during the flood: {slowest:.3f} s")
        print(f"   flood: {len(statuses)} logins, {len(busy)} answered 503; slowest /health, "
              f"JWKS or /api/users/me {slowest * 1000:.0f} ms", flush=True)
        text = call(flood.port, "GET", "/metrics").body.decode()
        h.expect("user_password_queue_refused_total" in text, "refusals counted")


run(test)
