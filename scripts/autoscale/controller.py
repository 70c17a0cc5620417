"""One service's control loop: each sync period, read the metric and the upstream's backends,
decide (decision.py), and act: start instances and register them, or drain and stop the newest
ones this autoscaler started. Instances from the stack's YAML are never stopped.

An action under way when the autoscaler is told to stop is finished (each step is bounded), so
that no instance is left started but unregistered, or drained but running."""
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import instances as inst
from .admin import AdminClient, AdminError
from .decision import Inputs, Recommendations, decide
from .events import emit
from .instances import Instance, InstanceStore
from .metrics import MetricReader, per_instance


@dataclass
class Context:
    """What every service's loop shares."""
    admin: AdminClient
    store: InstanceStore
    run_dir: Path
    targets_dir: Path
    root: Path
    bin_dir: Path
    prometheus: str | None
    dry_run: bool
    stop: threading.Event
    errors: int = 0         # "error" events so far (--once exits 1 after one)


class ServiceController:
    def __init__(self, policy, ctx, clock=time.monotonic):
        self.policy = policy
        self.ctx = ctx
        self.clock = clock
        self.history = Recommendations(policy.scale_up_window, policy.scale_down_window)
        self.reader = MetricReader(policy.metric, policy.upstream, ctx.prometheus,
                                   ctx.admin.metrics_text, clock)
        self.children = {}  # pid -> Popen, for the instances this process started
        self.adopted = False

    def emit(self, event, **fields):
        if event == "error":
            self.ctx.errors += 1
        emit(event, service=self.policy.name, **fields)

    # --- the loop ----------------------------------------------------------------------------

    def run(self, once=False):
        """Syncs every sync period until ctx.stop is set (once: a single sync)."""
        while not self.ctx.stop.is_set():
            began = self.clock()
            try:
                if not self.adopted:
                    self.adopt()
                    self.adopted = True
                self.sync(once)
            except AdminError as e:
                self.emit("error", error=str(e))
            except Exception as e:  # noqa: BLE001 - one failed sync must not end the loop
                self.emit("error", error=f"{type(e).__name__}: {e}")
            if once:
                return
            self.ctx.stop.wait(max(0.0, self.policy.sync_period - (self.clock() - began)))

    def sync(self, once=False):
        """One decision, and the action it asks for. Returns the Decision."""
        p = self.policy
        reading = self.reader.read()
        if once and reading.first_scrape and not self.ctx.stop.wait(p.sync_period):
            reading = self.reader.read()  # a rate needs a second scrape
        backends = self.ctx.admin.backends(p.upstream)
        if not self.ctx.dry_run and self._reconcile(backends):
            backends = self.ctx.admin.backends(p.upstream)
        active = [b for b in backends if not b.draining]
        ready = sum(b.ready for b in active)
        value = per_instance(p.metric, reading.total, ready)
        decision = decide(Inputs(value, p.target, ready, len(active) - ready, p.min, p.max,
                                 p.tolerance), self.history, self.clock())
        fields = decision.fields()
        if decision.reason == "missing metric" and reading.note:
            fields["reason"] = f"missing metric ({reading.note})"
        self.emit("decision", metric=p.metric, value=value, target=p.target, ready=ready,
                  not_ready=len(active) - ready, **fields, source=reading.source,
                  dry_run=self.ctx.dry_run)
        if self.ctx.dry_run:
            return decision
        if decision.desired > decision.current:
            self.scale_up(decision.desired - decision.current, backends)
        elif decision.desired < decision.current:
            self.scale_down(decision.current - decision.desired, backends)
        return decision

    # --- adopting what a previous autoscaler left ---------------------------------------------

    def adopt(self):
        """Takes over the instances of the state files: running ones are (re)registered, dead
        ones dropped, one a previous autoscaler was draining is stopped once drained."""
        p = self.policy
        backends = {b.address: b for b in self.ctx.admin.backends(p.upstream)}
        for i in self.ctx.store.list(p.name):
            b = backends.get(i.address)
            if not inst.is_service_process(i.pid):
                self._act("dropped", i, "its process is gone",
                          lambda i=i, b=b: self._forget(i, registered=b is not None))
            elif b is not None and b.draining:
                self._act("adopted", i, "was draining: stopping it once drained",
                          lambda i=i: self._drain_and_stop([i]))
            elif b is None:
                self._act("adopted", i, "running, not registered: registering it",
                          lambda i=i: self.ctx.admin.add(p.upstream, i.address))
            else:
                self._act("adopted", i, "running and registered", lambda: None)
        if not self.ctx.dry_run:
            self._publish()

    def _act(self, event, i, why, action):
        self.emit(event, address=i.address, pid=i.pid, detail=why, dry_run=self.ctx.dry_run)
        if not self.ctx.dry_run:
            action()

    def _reconcile(self, backends):
        """Keeps the state files and the upstream in step: an instance whose process died is
        forgotten (and drained from the balancer); a running one the balancer lost (it was
        restarted) is registered again. Returns whether anything changed."""
        registered = {b.address for b in backends}
        changed = False
        for i in self.ctx.store.list(self.policy.name):
            if not inst.is_service_process(i.pid):
                self.emit("dropped", address=i.address, pid=i.pid, detail="its process is gone")
                self._forget(i, registered=i.address in registered)
                changed = True
            elif i.address not in registered:
                self.ctx.admin.add(self.policy.upstream, i.address)
                self.emit("registered", address=i.address, pid=i.pid,
                          detail="again: the balancer no longer had it")
                changed = True
        if changed:
            self._publish()
        return changed

    def _forget(self, i, registered):
        if registered:
            self.ctx.admin.drain(self.policy.upstream, i.address)
        child = self.children.pop(i.pid, None)
        if child is not None:
            child.poll()  # reap it
        self.ctx.store.remove(i)

    # --- scaling -------------------------------------------------------------------------------

    def scale_up(self, count, backends):
        """Starts `count` instances, waits for each /ready, registers the ready ones."""
        p = self.policy
        taken = {_port_of(b.address) for b in backends}
        taken |= {i.port for i in self.ctx.store.list(p.name)}
        started = []
        for _ in range(count):
            port = inst.pick_port(p.ports, taken)
            if port is None:
                self.emit("error", error=f"no free port in {p.ports.start}-{p.ports.stop - 1}")
                break
            taken.add(port)
            try:
                argv, cwd = inst.launch_command(p.command, self.ctx.run_dir, p.name,
                                                self.ctx.root, self.ctx.bin_dir, port)
                child = inst.start(argv, cwd, self.ctx.run_dir / "logs" / f"{p.name}-{port}.log")
            except (RuntimeError, OSError) as e:
                self.emit("error", error=f"cannot start an instance: {e}")
                break
            i = Instance(p.name, f"127.0.0.1:{port}", port, child.pid, time.time(), argv)
            # Saved before it is ready: if the autoscaler ends now, the next one adopts it.
            self.ctx.store.save(i)
            self.children[child.pid] = child
            self.emit("started", address=i.address, pid=i.pid, argv=argv)
            started.append(i)

        deadline = self.clock() + p.ready_timeout
        for i in started:
            child = self.children[i.pid]
            if inst.wait_ready(i.port, max(0.0, deadline - self.clock()),
                               lambda c=child: c.poll() is None):
                self.ctx.admin.add(p.upstream, i.address)
                self.emit("registered", address=i.address, pid=i.pid)
                continue
            why = (f"exited with code {child.returncode}" if child.poll() is not None
                   else f"not ready within {p.ready_timeout:g}s")
            self.emit("error", error=f"instance {i.address} {why}; see "
                                     f"{self.ctx.run_dir / 'logs' / f'{p.name}-{i.port}.log'}")
            inst.stop(i.pid, p.stop_timeout, child)
            self._forget(i, registered=False)
        self._publish()

    def scale_down(self, count, backends):
        """Drains and stops the `count` newest instances this autoscaler started."""
        active = {b.address for b in backends if not b.draining}
        ours = [i for i in self.ctx.store.list(self.policy.name) if i.address in active]
        chosen = list(reversed(ours))[:count]
        if len(chosen) < count:
            self.emit("note", detail=f"{count} to remove but only {len(chosen)} of the "
                                     f"upstream's instances were started by the autoscaler")
        if chosen:
            self._drain_and_stop(chosen)

    def _drain_and_stop(self, chosen):
        """DELETE from the upstream, wait until the balancer removed them (their in-flight
        requests ended; bounded by drain_timeout), then SIGTERM them."""
        p = self.policy
        for i in chosen:
            self.ctx.admin.drain(p.upstream, i.address)
            self.emit("draining", address=i.address, pid=i.pid)
        addresses = {i.address for i in chosen}
        deadline = self.clock() + p.drain_timeout
        while True:
            left = addresses & {b.address for b in self.ctx.admin.backends(p.upstream)}
            if not left or self.clock() >= deadline:
                break
            time.sleep(0.1)
        if left:
            self.emit("error", error=f"still in the upstream after {p.drain_timeout:g}s of "
                                     f"draining: {', '.join(sorted(left))}; stopping anyway")
        for i in chosen:
            killed = inst.stop(i.pid, p.stop_timeout, self.children.get(i.pid))
            self._forget(i, registered=False)
            self.emit("stopped", address=i.address, pid=i.pid,
                      detail="SIGKILL after SIGTERM timed out" if killed else "SIGTERM")
        self._publish()

    def _publish(self):
        inst.write_targets(self.ctx.targets_dir, self.policy.name,
                           self.ctx.store.list(self.policy.name))


def _port_of(address):
    try:
        return int(address.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
