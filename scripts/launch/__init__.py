"""One way to start and stop the project's processes, shared by scripts/stack (stacklib),
scripts/autoscaler, perf/faults and the integration tests' harness. Python standard library
only; import it with scripts/ on sys.path (`import launch`).

    process.py    Process (what to run: argv, env, cwd, log, readiness) and Child (a process
                  this program started: bounded wait for readiness, stop, its log)
    readiness.py  what "ready" means: a port accepts, a log line appears, an HTTP answer,
                  a command succeeds
    pids.py       processes by pid only: alive, their program, stop (SIGTERM, bounded wait,
                  SIGKILL); never by name
    pidfile.py    a pid file, and the pid in it when that process still runs its program
    files.py      state and generated files written atomically, JSON with the json library
"""
from .files import read_json, write_atomic, write_json
from .pidfile import PidFile
from .pids import alive, comm, program, send, stop
from .process import Child, Process, StartError, start
from .readiness import CommandSucceeds, HttpAnswers, LogLine, PortAccepts, port_accepts, wait

__all__ = ["Child", "CommandSucceeds", "HttpAnswers", "LogLine", "PidFile", "PortAccepts",
           "Process", "StartError", "alive", "comm", "port_accepts", "program", "read_json", "send",
           "start", "stop", "wait", "write_atomic", "write_json"]
