"""A server a benchmark runs in a process of its own (its CPU is not the benchmark's): output to a
log file, waited for until a readiness probe answers, stopped by SIGTERM (SIGKILL if it lingers)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]


class Child:
    def __init__(self, args: Sequence[str], *, log: Path, ready: Callable[[], bool], what: str,
                 timeout: float, env: Mapping[str, str] | None = None, poll: float = 0.05):
        """Start ``args`` in the repository's root; return once ``ready()`` is true, raise
        RuntimeError (with the log's tail; the process stopped) if it exits or ``timeout`` passes
        first."""
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(list(args), cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"{what} did not start: {tail}")
            time.sleep(poll)

    def close(self, timeout: float = 60) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
