"""The whole shop for the data-loss cases: a throwaway PostgreSQL and Redis, the four services
and a balancer (2 workers, a Redis-backed global rate limit on product reads, fail-open), and
shop traffic that keeps the books needed to prove nothing was lost:

* customers place orders, each with its own Idempotency-Key, and send a failed one again
  with the same key until it is acknowledged (201), as a careful client does;
* a courier moves every acknowledged order to paid, then shipped; a change whose answer was
  lost is sent again, and a 409 then is fine when the order already has that status;
* an anonymous reader gets products (the rate-limited, cached route);
* each customer holds a notification WebSocket that resumes with its last event id.

Afterwards `verify` compares the acknowledged orders with PostgreSQL and the committed outbox
events with what each customer's WebSocket received."""
import http.client
import json
import queue
import random
import threading
import time

import harness
from fixture import Stores, call, dev_keys, free_port, shop_balancer_config, start_service

from .load import Record
from .ws_client import Notifications, wait_all

RATE_LIMIT = "    rate_limit: { rate: 100000/s, burst: 100000, key: ip, scope: global }\n"
PRODUCT_ROUTE = ("  - match: { path_prefix: /api/products, methods: [GET, HEAD] }\n"
                 "    upstream: products\n    auth: jwt_optional\n")
RETRY_DELAY = 0.15


class Shop:
    """Started once and shared by the shop cases (PostgreSQL's init is the slow part)."""

    def __init__(self):
        self.h = harness.Harness("faults-shop")
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self):
        h = self.h
        self.stores = Stores(h, seed=True)
        key = dev_keys(h)
        jwks = h.dir / "jwks.json"
        self.services = {
            "users": start_service(h, "user-service", self.stores, **{
                "jwt.private_keys": key, "jwt.jwks_file": jwks,
                "password.memory_kib": 1024, "password.iterations": 1,
                "seed.courier_email": "courier@shop.test",
                "seed.courier_password": "courier-pass"}),
            "products": start_service(h, "product-service", self.stores),
            "orders": start_service(h, "order-service", self.stores, **{
                "relay.interval": "300ms", "relay.backoff_max": "500ms"}),
            "notifications": start_service(h, "notification-service", self.stores),
        }
        self.port = free_port()
        ports = {name: svc.port for name, svc in self.services.items()}
        config = shop_balancer_config(self.port, jwks, ports, workers=2)
        assert PRODUCT_ROUTE in config, "shop_balancer_config changed: update PRODUCT_ROUTE"
        config = config.replace(PRODUCT_ROUTE, PRODUCT_ROUTE + RATE_LIMIT)
        config = config.replace("listeners:", "redis: { address: 127.0.0.1:%d, timeout: 50ms, "
                                "fail_open: true }\nlisteners:" % self.stores.redis_port, 1)
        self.lb = h.balancer(config, self.port)
        for svc in self.services.values():
            self.wait_ready(svc)
        self.courier = self.login("courier@shop.test", "courier-pass")
        items = self.api("GET", "/api/products?limit=20").json()["items"]
        self.products = [p["id"] for p in items]

    def close(self):
        self.h.close()

    def wait_ready(self, svc, timeout=20):
        def ready():
            try:
                return call(svc.port, "GET", "/ready", timeout=2).status == 200
            except OSError:
                return False
        if not harness.wait_for(ready, timeout, 0.1):
            raise RuntimeError(f"{svc.binary} not ready after {timeout}s")

    def api(self, method, path, body=None, token=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return call(self.port, method, path, body, headers=headers)

    def login(self, email, password):
        for _ in range(50):
            r = self.api("POST", "/api/auth/login", {"email": email, "password": password})
            if r.status == 200:
                return r.json()["access_token"]
            time.sleep(0.2)
        raise RuntimeError(f"login {email}: {r.status} {r.body[:200]!r}")

    def customer(self, email):
        """A new customer (set-up, not measured: a 503 is asked again): (user id, token)."""
        for _ in range(50):
            r = self.api("POST", "/api/users", {"email": email, "password": "faults-pass-1",
                                               "name": email.split("@")[0]})
            if r.status != 503:
                break
            time.sleep(0.2)
        if r.status != 201:
            raise RuntimeError(f"register {email}: {r.status} {r.body[:200]!r}")
        token = self.login(email, "faults-pass-1")
        uid = int(self.api("GET", "/api/users/me", token=token).json()["id"])
        return uid, token

    def psql(self, sql):
        return self.stores.psql(sql)


class Client:
    """One keep-alive connection to the balancer; each call gives a Record."""

    def __init__(self, port, prefix):
        self.port = port
        self.prefix = prefix
        self.n = 0
        self.conn = None

    def call(self, method, path, body=None, token=None, headers=None):
        self.n += 1
        rec = Record(f"{self.prefix}-{self.n}", f"{method} {path.split('?')[0]}",
                     time.monotonic(), time.time())
        h = {"X-Request-Id": rec.rid, **(headers or {})}
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.conn.request(method, path, body=data, headers=h)
            resp = self.conn.getresponse()
            rec.body = resp.read()
            rec.status = resp.status
            rec.headers = {k.lower(): v for k, v in resp.getheaders()}
        except (OSError, http.client.HTTPException) as e:
            rec.error = type(e).__name__
            self.conn.close()
            self.conn = None
        rec.end = time.monotonic()
        return rec

    def close(self):
        if self.conn is not None:
            self.conn.close()


class Traffic:
    """The shop traffic of one case. start(); ...; stop(); then verify()."""

    def __init__(self, shop, case, customers, order_pause=0.02, read_pause=0.005):
        self.shop = shop
        self.case = case
        self.order_pause = order_pause
        self.read_pause = read_pause
        self.records = []            # every request: Record
        self.accepted_409 = 0        # status retries answered 409 because the first had landed
        self.acked = {}              # Idempotency-Key -> id_order (201)
        self.ack_conflicts = []      # a key acknowledged with two different orders
        self.unacked_keys = []       # keys still unacknowledged when the traffic ended
        self.customers = []          # (user id, token, Notifications)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._finish_by = None
        self._to_courier = queue.Queue()
        self._threads = []
        for i in range(customers):
            uid, token = shop.customer(f"{case}-{i}-{random.randrange(1 << 30)}@faults.test")
            ws = Notifications(shop.port, token, f"{case}-{i}")
            ws.start()
            self.customers.append((uid, token, ws))
        for _, _, ws in self.customers:
            ws.wait_open()

    # --- running ------------------------------------------------------------------------------

    def start(self):
        for i, (uid, token, _) in enumerate(self.customers):
            self._threads.append(threading.Thread(target=self._orders, args=(i, token),
                                                  daemon=True))
        self._threads.append(threading.Thread(target=self._courier, daemon=True))
        self._threads.append(threading.Thread(target=self._reader, daemon=True))
        for t in self._threads:
            t.start()

    def wait_first_events(self, timeout=15):
        """Until every customer has an event (so it has an id to resume from)."""
        if not wait_all(self.customers, lambda cs: all(ws.last_event_id for _, _, ws in cs),
                        timeout):
            raise RuntimeError("a customer got no event in time")

    def stop(self, finish_within=20):
        """Stops new work; pending orders and status changes get `finish_within` seconds."""
        self._finish_by = time.monotonic() + finish_within
        self._stop.set()
        for t in self._threads:
            t.join(finish_within + 15)

    def _record(self, rec, failed=None):
        with self._lock:
            self.records.append((rec, (not rec.ok) if failed is None else failed))

    def _give_up(self):
        return self._stop.is_set() and time.monotonic() > self._finish_by

    def _orders(self, i, token):
        client = Client(self.shop.port, f"{self.case}-o{i}")
        n = 0
        while not self._stop.is_set():
            n += 1
            key = f"{self.case}:{i}:{n}"
            body = {"id_produk": random.choice(self.shop.products), "jumlah": 1 + n % 3}
            while True:
                rec = client.call("POST", "/api/orders", body, token,
                                  headers={"Idempotency-Key": key})
                self._record(rec)
                if rec.status == 201:
                    oid = json.loads(rec.body)["id_order"]
                    with self._lock:
                        if self.acked.setdefault(key, oid) != oid:
                            self.ack_conflicts.append((key, self.acked[key], oid))
                    self._to_courier.put((oid, token))
                    break
                if self._give_up():
                    with self._lock:
                        self.unacked_keys.append(key)
                    break
                time.sleep(RETRY_DELAY)
            time.sleep(self.order_pause)
        client.close()

    def _courier(self):
        client = Client(self.shop.port, f"{self.case}-c")
        while True:
            try:
                oid, owner = self._to_courier.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    break
                continue
            for status in ("paid", "shipped"):
                if not self._set_status(client, oid, owner, status):
                    break
        client.close()

    def _set_status(self, client, oid, owner, status):
        retried = False
        while True:
            rec = client.call("POST", f"/api/orders/{oid}/status", {"status": status},
                              self.shop.courier)
            if rec.status == 409 and retried:
                # The earlier attempt landed but its answer was lost: fine if it shows.
                now = client.call("GET", f"/api/orders/{oid}", token=owner)
                self._record(now)
                landed = now.ok and json.loads(now.body).get("status") == status
                self._record(rec, failed=not landed)
                if landed:
                    with self._lock:
                        self.accepted_409 += 1
                return landed
            self._record(rec)
            if rec.ok:
                return True
            if self._give_up():
                return False
            retried = True
            time.sleep(RETRY_DELAY)

    def _reader(self):
        client = Client(self.shop.port, f"{self.case}-r")
        n = 0
        while not self._stop.is_set():
            n += 1
            path = (f"/api/products/{random.choice(self.shop.products)}" if n % 4
                    else "/api/products?limit=5")
            self._record(client.call("GET", path))
            time.sleep(self.read_pause)
        client.close()

    # --- results ------------------------------------------------------------------------------

    def sent(self):
        return len(self.records)

    def failures(self):
        return [rec for rec, failed in self.records if failed]

    def outcomes(self, records):
        counts = {}
        for rec in records:
            key = f"{rec.kind} {rec.outcome()}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def verify(self, result, deliver_within=30):
        """Fills result.lost_orders/lost_events/orders/events and their notes and checks."""
        case = self.case
        rows = self.shop.psql(
            "SELECT idempotency_key, id_order FROM orders "
            f"WHERE split_part(idempotency_key, ':', 1) = '{case}'")
        in_db = {}
        for k, oid in rows:
            in_db.setdefault(k, []).append(int(oid))
        missing = [k for k, oid in self.acked.items() if in_db.get(k) != [oid]]
        doubled = [k for k, ids in in_db.items() if len(ids) > 1]
        result.orders = len(self.acked)
        result.lost_orders = len(set(missing) | set(doubled)) + len(self.ack_conflicts)
        result.note(f"{len(self.acked)} orders acknowledged, all in PostgreSQL once"
                    if not result.lost_orders else
                    f"orders: {len(missing)} acknowledged but missing/different in PostgreSQL "
                    f"(e.g. {missing[:3]}), {len(doubled)} keys doubled, "
                    f"{len(self.ack_conflicts)} keys acknowledged with two ids")
        unacked_in_db = [k for k in self.unacked_keys if k in in_db]
        if self.unacked_keys:
            result.note(f"{len(self.unacked_keys)} keys never acknowledged "
                        f"({len(unacked_in_db)} of them committed)")
        result.check(result.lost_orders == 0, "no acknowledged order lost or doubled")

        # Every committed event of these orders: sent by the relay, then at its owner's socket.
        def committed():
            return self.shop.psql(
                "SELECT o.event_id, o.aggregate_id, o.payload->>'status', "
                "o.sent_at IS NOT NULL, orders.id_user FROM outbox o "
                "JOIN orders ON orders.id_order = o.aggregate_id "
                f"WHERE split_part(orders.idempotency_key, ':', 1) = '{case}'")
        by_user = {uid: ws for uid, _, ws in self.customers}
        deadline = time.monotonic() + deliver_within
        while True:
            events = committed()
            want = {}
            for event_id, _, _, _, uid in events:
                want.setdefault(int(uid), set()).add(event_id)
            delivered = all(want.get(uid, set()) <= {e["event_id"] for e in ws.received()}
                            for uid, ws in by_user.items())
            if (delivered and all(sent == "t" for _, _, _, sent, _ in events)) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        unsent = sum(1 for e in events if e[3] != "t")
        lost = dup = foreign = 0
        for uid, ws in by_user.items():
            got = [e["event_id"] for e in ws.received()]
            mine = want.get(uid, set())
            lost += len(mine - set(got))
            dup += len(got) - len(set(got))
            foreign += len(set(got) - mine)
        result.events = len(events)
        result.lost_events = lost + dup
        reconnects = sum(ws.opened - 1 for _, _, ws in self.customers)
        result.note(f"{len(events)} events committed: {lost} never delivered, {dup} delivered "
                    f"twice, {foreign} to a wrong user, {unsent} unsent in the outbox; "
                    f"{reconnects} WebSocket reconnects")
        result.check(result.lost_events == 0, "every committed event delivered to its owner once")
        result.check(foreign == 0, "no event pushed to another user")
        for _, _, ws in self.customers:
            ws.close()
