"""What a run costs, read from /proc: CPU time per process and of the whole machine, resident
memory, and whether other jobs disturbed the run."""
import os
import time

from . import log

CLK_TCK = os.sysconf("SC_CLK_TCK")
DISTURBED_PCT = 10.0      # other jobs' CPU (% of a core) above which a run is unreliable


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    return st[st.rfind(")") + 2:].split()


def children_of(pid):
    """All descendants of pid (scan of /proc; works without CONFIG_PROC_CHILDREN)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        fields = _stat_fields(d)
        if fields is not None:
            parent[int(d)] = int(fields[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                frontier.append(c)
    return out


def cpu_ticks(pid):
    """utime+stime of the whole process (all threads), in clock ticks."""
    fields = _stat_fields(pid)
    return 0 if fields is None else int(fields[11]) + int(fields[12])


def utime_ticks(pid):
    """utime only (user-space CPU) of the whole process."""
    fields = _stat_fields(pid)
    return 0 if fields is None else int(fields[11])


def system_user_ticks():
    """user+nice+steal of all CPUs.  The 'other CPU' check compares this with
    the user time of our processes: user time is attributed the same way in
    both places, whereas the loopback softirq work is sometimes charged to the
    task that triggered it and sometimes not, which makes total busy time an
    unreliable yardstick at high connection counts."""
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    return int(v[0]) + int(v[1]) + int(v[7])


def system_busy_ticks():
    """Busy time of all CPUs: everything but idle and iowait.  irq/softirq are
    included because the tasks' own times include the loopback softirq work
    done in their syscalls."""
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in v[:8])
    return user + nice + system + irq + softirq + steal


def all_process_ticks():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            fields = st[st.rfind(")") + 2:].split()
            out[int(d)] = (st[st.find("(") + 1:st.rfind(")")], int(fields[11]) + int(fields[12]))
    return out


def top_others(before, after, ours, n=3):
    """The other processes that used the most CPU between two snapshots."""
    deltas = []
    for pid, (comm, t1) in after.items():
        if pid in ours:
            continue
        t0 = before.get(pid, (comm, 0))[1]
        if t1 > t0:
            deltas.append((t1 - t0, f"{comm}[{pid}]"))
    deltas.sort(reverse=True)
    return [f"{name} {d / CLK_TCK:.2f}s" for d, name in deltas[:n]]


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rfind(")") + 2] != "Z"
    except OSError:
        return False


class CpuWindow:
    """CPU used over one measured run: by each group of our processes (the proxy, the
    origin, a scenario's helpers such as Redis) and by everything else on the machine."""

    def __init__(self, groups):
        self.groups = {k: list(v) for k, v in groups.items()}
        self.ours = [p for pids in self.groups.values() for p in pids]

    def start(self):
        self.c0 = {k: sum(cpu_ticks(p) for p in v) for k, v in self.groups.items()}
        self.snap0 = all_process_ticks()
        self.s0 = system_user_ticks()
        self.u0 = sum(utime_ticks(p) for p in self.ours)

    def stop(self):
        self.s1 = system_user_ticks()
        self.u1 = sum(utime_ticks(p) for p in self.ours)
        self.snap1 = all_process_ticks()
        self.c1 = {k: sum(cpu_ticks(p) for p in v) for k, v in self.groups.items()}

    def seconds(self, group):
        return (self.c1[group] - self.c0[group]) / CLK_TCK

    def others(self, wrk_utime_s, wall_s):
        """User CPU used by anything but wrk and our processes (other jobs on the machine)
        plus hypervisor steal, in % of one core (may be slightly negative), and the
        processes that used the most."""
        ours = wrk_utime_s + (self.u1 - self.u0) / CLK_TCK
        top = top_others(self.snap0, self.snap1, set(self.ours) | {os.getpid()})
        return 100 * ((self.s1 - self.s0) / CLK_TCK - ours) / wall_s, top


def wait_for_idle_machine(limit, threshold_pct=15.0, sample=0.5):
    """Wait (at most limit seconds) until the machine is idle: other jobs (a
    compiler next door) would distort the run.  Returns the seconds waited."""
    t0 = time.time()
    while True:
        b0 = system_busy_ticks()
        time.sleep(sample)
        busy_pct = 100 * (system_busy_ticks() - b0) / CLK_TCK / sample
        waited = time.time() - t0
        if busy_pct < threshold_pct or waited >= limit:
            if busy_pct >= threshold_pct:
                log(f"  machine still busy ({busy_pct:.0f}% of a core) after {waited:.0f}s; running anyway")
            elif waited > 2 * sample:
                log(f"  waited {waited:.0f}s for the machine to be idle")
            return waited
        time.sleep(1.0)
