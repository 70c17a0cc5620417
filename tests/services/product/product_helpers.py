"""What the product-service tests share: an admin's calls, reading a counter from /metrics."""
import json
import re

from fixture import call

ADMIN = {"user": 1, "roles": ["admin"]}


def create(port, **fields):
    """POSTs a product as an admin; its JSON (raises unless 201)."""
    body = {"name": "Product", "price": 1000}
    body.update(fields)
    r = call(port, "POST", "/api/products", body, **ADMIN)
    if r.status != 201:
        raise AssertionError(f"create {body}: {r.status} {r.body[:200]!r}")
    return r.json()


def metric(port, name, **labels):
    """The value of one sample in the service's /metrics (0 when absent)."""
    text = call(port, "GET", "/metrics").body.decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def body(r):
    return json.loads(r.body)
