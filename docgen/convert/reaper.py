"""Owner-death guard: a helper process per pool that kills the pool's LibreOffice process
groups and removes its temp paths when the owning process goes away, even by SIGKILL."""
from __future__ import annotations

import subprocess
import sys
import threading

__all__ = ["Reaper"]

# Runs in a small helper process per pool.  It holds the read end of a pipe from the pool's
# process; the pool registers each worker's process group and its temp paths.  When the pipe
# reaches EOF -- the pool closed, or its process died, even by SIGKILL -- the helper kills the
# groups still registered and removes the paths, so no LibreOffice outlives its owner.
_REAPER_SCRIPT = r"""
import os, shutil, signal, sys
groups, paths = set(), set()
for line in sys.stdin:
    op, _, arg = line.rstrip("\n").partition(" ")
    if op == "+g": groups.add(int(arg))
    elif op == "-g": groups.discard(int(arg))
    elif op == "+p": paths.add(arg)
    elif op == "-p": paths.discard(arg)
for g in groups:
    try: os.killpg(g, signal.SIGKILL)
    except OSError: pass
for p in sorted(paths, reverse=True):
    if os.path.isdir(p) and not os.path.islink(p): shutil.rmtree(p, ignore_errors=True)
    else:
        try: os.unlink(p)
        except OSError: pass
"""


class Reaper:
    """The helper process and the pipe to it.  ``send("+g", pgid)`` / ``send("-g", pgid)``
    (un)register a process group, ``"+p"`` / ``"-p"`` a path; ``close()`` lets it act now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _REAPER_SCRIPT],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a signal to our process group must not reach it
            text=True,
        )

    def send(self, op: str, arg: object) -> None:
        with self._lock:
            try:
                self.proc.stdin.write(f"{op} {arg}\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):  # helper gone / closed: nothing more to guard
                pass

    def close(self) -> None:
        with self._lock:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
            self.proc.wait()
