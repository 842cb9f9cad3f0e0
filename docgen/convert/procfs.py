"""What /proc says about processes: state, process-group members, bound unix sockets."""
from __future__ import annotations

import os

__all__ = ["proc_stat", "group_members", "bound_unix_sockets"]


def proc_stat(pid: int) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, pgrp) of a live /proc entry, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    lpar, rpar = raw.find("("), raw.rfind(")")
    fields = raw[rpar + 2 :].split()
    return raw[lpar + 1 : rpar], fields[0], int(fields[1]), int(fields[2])


def group_members(pgid: int) -> list[tuple[int, str, str]]:
    """(pid, comm, state) of every process in process group ``pgid`` (zombies included)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st is not None and st[3] == pgid:
            out.append((int(entry), st[0], st[1]))
    return out


def bound_unix_sockets(pid: int) -> list[str]:
    """Filesystem paths of the unix sockets process ``pid`` holds (LibreOffice's named pipes
    ``/tmp/OSL_PIPE_*`` stay behind when the process is killed; we unlink them ourselves)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open("/proc/net/unix") as fh:
            next(fh)
            rows = [line.split() for line in fh]
    except OSError:
        return []
    return sorted({r[7] for r in rows if len(r) >= 8 and r[6] in inodes and r[7].startswith("/")})
