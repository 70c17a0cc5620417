"""The balancer's admin API (DESIGN.md, balancer/admin/admin_server.cc): the backends of each
upstream, adding a backend, draining one away, and the /metrics page."""
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .urls import urlopen


class AdminError(Exception):
    """The admin API did not answer, or answered something unexpected."""


@dataclass(frozen=True)
class Backend:
    address: str
    healthy: bool
    draining: bool
    ejected: bool
    in_flight: int

    @property
    def ready(self):
        """Takes requests: what the balancer exports as balancer_upstream_backend_up."""
        return self.healthy and not self.draining and not self.ejected


class AdminClient:
    def __init__(self, base_url, token=None, timeout=5.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None):
        """(status, body bytes); 4xx and 5xx are returned, not raised."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urlopen(request, self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise AdminError(f"{method} {self.base_url}{path}: "
                             f"{getattr(e, 'reason', e)}") from None

    def _fail(self, method, path, status, body):
        text = body[:200].decode(errors="replace")
        hint = " (check the token)" if status == 401 else ""
        return AdminError(f"{method} {self.base_url}{path}: {status} {text}{hint}")

    def backends(self, upstream):
        """The backends of `upstream` as the balancer has them now (draining ones included)."""
        status, body = self._request("GET", "/upstreams")
        if status != 200:
            raise self._fail("GET", "/upstreams", status, body)
        try:
            upstreams = json.loads(body)["upstreams"]
        except (ValueError, KeyError, TypeError):
            raise AdminError(f"GET {self.base_url}/upstreams: not the expected JSON") from None
        for u in upstreams:
            if u.get("name") == upstream:
                return [Backend(b["address"], bool(b["healthy"]), bool(b["draining"]),
                                bool(b.get("ejected", False)), int(b.get("in_flight", 0)))
                        for b in u.get("backends", [])]
        raise AdminError(f"the balancer has no upstream '{upstream}'")

    def add(self, upstream, address, weight=1):
        """Registers a backend: True when added (201), False when it was there already (409)."""
        path = f"/upstreams/{urllib.parse.quote(upstream, safe='')}/backends"
        status, body = self._request("POST", path, {"address": address, "weight": weight})
        if status in (201, 409):
            return status == 201
        raise self._fail("POST", path, status, body)

    def drain(self, upstream, address):
        """Starts draining a backend (the balancer removes it once its in-flight requests
        ended): True when accepted (202), False when the balancer does not know it (404)."""
        path = (f"/upstreams/{urllib.parse.quote(upstream, safe='')}/backends/"
                f"{urllib.parse.quote(address, safe='')}")
        status, body = self._request("DELETE", path)
        if status in (202, 404):
            return status == 202
        raise self._fail("DELETE", path, status, body)

    def metrics_text(self):
        status, body = self._request("GET", "/metrics")
        if status != 200:
            raise self._fail("GET", "/metrics", status, body)
        return body.decode()
