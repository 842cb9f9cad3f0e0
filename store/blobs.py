"""Content-addressed blobs: a file's name is its SHA-256.

Writing the same content twice is a no-op, which is what lets an issuance that crashed after
writing its PDF and DOCX but before its transaction committed reuse those files when retried:
at worst a crash leaves files nothing refers to, never a record without its files.

Those files are collected by `qujat gc-blobs` (`store.gc`): a blob nothing refers to whose last
use is older than a grace period is deleted. Its last use is the later of its mtime (written)
and its atime, which a put that finds the blob already there sets to now, keeping the mtime
(the blob is *claimed*: the transaction that will refer to it is under way). The collector
takes a candidate out of its place by renaming it, then reads its times once more: a put that
claimed it before the rename is seen (the file goes back), and a put after the rename finds no
file and writes it again. So a collection running next to live writes never removes a blob that
a transaction is about to refer to, as long as that transaction commits within the grace period.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from store.errors import NotFound, StoreError
from store.model import check_sha256

__all__ = ["BlobStore", "FileBlobStore", "BlobFile"]

_TMP, _GC = ".tmp-", ".gc-"              # a write under way; a blob being collected
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class BlobFile:
    """A file of the blob store: a blob (``name`` is its SHA-256) or a temporary file a killed
    write left (``temporary``; ``name`` is ``<folder>/<file>``). ``last_used_ns``: the later of
    its mtime and atime, in nanoseconds since the epoch."""

    name: str
    size: int
    last_used_ns: int
    temporary: bool = False


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; its lowercase hex SHA-256. Idempotent."""

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """`put` each of ``items`` (all of them durable when it returns); their SHA-256s."""

    def get(self, sha256: str) -> bytes:
        """The content (`NotFound` if absent)."""

    def exists(self, sha256: str) -> bool: ...

    def scan(self) -> Iterator[BlobFile]:
        """Every blob, by SHA-256 ascending, and the temporary files killed writes left."""

    def remove_unused(self, name: str, *, unused_since_ns: int) -> int | None:
        """Delete the blob or temporary file ``name`` (as `scan` names it) unless it was used at
        or after ``unused_since_ns`` (also by a put racing this call): the bytes freed, or None
        if it was kept or is gone."""


class FileBlobStore:
    """Blobs as files ``root/ab/cdef…`` (the first two hex digits name the folder). A write goes
    to a temporary file in the same folder, is fsynced and renamed into place (then the folder
    is fsynced), so a reader sees a whole file or none."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        return self.put_many((data,))[0]

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Each blob as `put` writes it, the steps of all of them batched: every temporary file
        written, then each fsynced, renamed into place, and each folder fsynced once after its
        last rename (the file system's journal commits fewer times than blob after blob)."""
        names: list[str] = []
        pending: list[tuple[int, str, Path]] = []      # (fd, temporary path, target)
        try:
            for data in items:
                data = bytes(data)
                sha256 = hashlib.sha256(data).hexdigest()
                names.append(sha256)
                target = self.path(sha256)
                if _claim(target, len(data)):
                    continue                   # same name, same size: the same content
                if not target.parent.is_dir():
                    target.parent.mkdir(exist_ok=True)
                    _fsync_dir(self.root)
                fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
                pending.append((fd, tmp, target))
                _write_all(fd, data)
            for fd, _, _ in pending:
                os.fsync(fd)
            while pending:
                fd, tmp, target = pending.pop(0)
                try:
                    os.close(fd)
                    os.replace(tmp, target)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
                if not any(t.parent == target.parent for _, _, t in pending):
                    _fsync_dir(target.parent)      # after the last rename into it
        except BaseException:
            for fd, tmp, _ in pending:
                with contextlib.suppress(OSError):
                    os.close(fd)
                Path(tmp).unlink(missing_ok=True)
            raise
        return names

    def get(self, sha256: str) -> bytes:
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob {sha256}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreError(f"blob {sha256} is corrupt: its content has another SHA-256")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def scan(self) -> Iterator[BlobFile]:
        """Every blob, by SHA-256 ascending (folder by folder), and the temporary files killed
        writes left. A blob that a killed collection left taken out (``.gc-…``) is first put
        back. Files that vanish during the scan are skipped; files not named like ours are
        left alone."""
        try:
            folders = sorted(e.name for e in os.scandir(self.root)
                             if e.is_dir(follow_symlinks=False) and _is_hex(e.name, 2))
        except FileNotFoundError:
            return
        for folder in folders:
            where = self.root / folder
            try:
                names = sorted(os.listdir(where))
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith(_GC) and _is_hex(name[len(_GC):], 62):
                    _put_back(where / name, where / name[len(_GC):])
            for name in names:
                temporary = name.startswith(_TMP)
                if not temporary and not _is_hex(name, 62):
                    continue
                try:
                    st = os.stat(where / name, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield BlobFile(name=f"{folder}/{name}" if temporary else folder + name,
                               size=st.st_size, last_used_ns=_last_used(st), temporary=temporary)

    def remove_unused(self, name: str, *, unused_since_ns: int) -> int | None:
        if "/" in name:                        # a temporary file: nothing claims it
            folder, _, base = name.partition("/")
            if not (_is_hex(folder, 2) and base.startswith(_TMP) and "/" not in base):
                raise ValueError(f"not a temporary blob file: {name!r}")
            path = self.root / folder / base
            try:
                st = os.stat(path, follow_symlinks=False)
                if _last_used(st) >= unused_since_ns:
                    return None
                path.unlink()
            except FileNotFoundError:
                return None
            return st.st_size
        target = self.path(name)
        taken = target.with_name(_GC + target.name)
        try:
            os.rename(target, taken)           # out of its place: a put from now on rewrites it
            st = os.stat(taken, follow_symlinks=False)
        except FileNotFoundError:              # gone, or put back by another collection
            return None
        if _last_used(st) >= unused_since_ns:  # claimed by a put before the rename
            _put_back(taken, target)
            return None
        try:
            taken.unlink()
        except FileNotFoundError:
            return None
        return st.st_size


def _claim(target: Path, size: int) -> bool:
    """True if ``target`` holds ``size`` bytes (the blob is there) and is now claimed: its atime
    set to now, its mtime kept (the module docstring). False if it must be written."""
    try:
        st = target.stat()
        if st.st_size != size:
            return False
        os.utime(target, ns=(time.time_ns(), st.st_mtime_ns))
        return True
    except (FileNotFoundError, PermissionError):   # gone, or another user's: write it anew
        return False


def _put_back(taken: Path, target: Path) -> None:
    """A blob taken out by a collection back in its place (a copy written meanwhile has the
    same bytes, so replacing it changes nothing)."""
    try:
        os.replace(taken, target)
    except FileNotFoundError:
        return
    _fsync_dir(target.parent)


def _last_used(st: os.stat_result) -> int:
    return max(st.st_mtime_ns, st.st_atime_ns)


def _is_hex(name: str, length: int) -> bool:
    return len(name) == length and _HEX.issuperset(name)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
