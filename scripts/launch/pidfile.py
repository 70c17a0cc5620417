"""A pid file: the pid of a process started earlier (possibly by another run of this
program), trusted only while that process still runs the expected program."""
from pathlib import Path

from .pids import alive, comm


class PidFile:
    def __init__(self, path, program):
        """`program`: the name the process runs under (its comm; the kernel keeps 15
        characters of it)."""
        self.path = Path(path)
        self.program = program

    def exists(self):
        return self.path.is_file()

    def write(self, pid):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def remove(self):
        self.path.unlink(missing_ok=True)

    def pid(self):
        """The recorded pid when that process runs `program`; None for no file, a stale pid
        or a pid reused by another program."""
        try:
            digits = "".join(c for c in self.path.read_text() if c.isdigit())
        except OSError:
            return None
        if not digits or not alive(int(digits)):
            return None
        if comm(int(digits)) != self.program[:15]:
            return None
        return int(digits)
