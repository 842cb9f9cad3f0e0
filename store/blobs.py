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

Each collection takes a blob out under a name of its own (``.gc-<hash>.<random>``: two at once
never replace each other's file), and a blob goes back only where no file is (a hard link, then
the taken name removed): a copy a put wrote meanwhile is never replaced by an older one, whose
times would make it look unused. Only regular files are ours: folders, links and other entries
in the blob folder are left alone.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat as stat_module
import tempfile
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

    def scan(self, *, restore: bool = True) -> Iterator[BlobFile]:
        """Every blob, by SHA-256 ascending, and the temporary files killed writes left
        (``restore``: blobs a killed collection took out go back first; else they are listed
        where they are and nothing is changed)."""

    def clock_ns(self) -> int:
        """Now, by the clock that stamps the blob files (nanoseconds since the epoch)."""

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

    def scan(self, *, restore: bool = True) -> Iterator[BlobFile]:
        """Every blob, by SHA-256 ascending (folder by folder), then each folder's temporary
        files killed writes left. A blob that a killed collection left taken out (``.gc-…``)
        is first put back (``restore``), or else listed by its hash where it is, unless the blob
        is in its place too (a dry run changes nothing). Only regular files are listed; files
        that vanish during the scan are skipped; other entries are left alone."""
        try:
            folders = sorted(e.name for e in os.scandir(self.root)
                             if e.is_dir(follow_symlinks=False) and _is_hex(e.name, 2))
        except FileNotFoundError:
            return
        for folder in folders:
            where = self.root / folder
            try:
                names = os.listdir(where)
            except (FileNotFoundError, NotADirectoryError):
                continue
            found = {name: where / name for name in names if _is_hex(name, 62)}
            for name in sorted(names):
                blob = _taken_blob(name)
                if blob is None:
                    continue
                if restore:
                    _put_back(where / name, where / blob)
                # the blob in its place wins; else (a dry run) the first taken-out copy
                found.setdefault(blob, where / (blob if restore else name))
            for blob in sorted(found):
                st = _regular_stat(found[blob])
                if st is not None:
                    yield BlobFile(name=folder + blob, size=st.st_size, last_used_ns=_last_used(st))
            for name in sorted(n for n in names if n.startswith(_TMP)):
                st = _regular_stat(where / name)
                if st is not None:
                    yield BlobFile(name=f"{folder}/{name}", size=st.st_size,
                                   last_used_ns=_last_used(st), temporary=True)

    def clock_ns(self) -> int:
        """Now by the clock that stamps this folder's files: a new file's mtime (on a shared
        mount, the file server's clock, which the writers' times come from too; a machine's
        own clock may be off by more than a grace period)."""
        fd, probe = tempfile.mkstemp(dir=self.root, prefix=".clock-")
        try:
            return os.fstat(fd).st_mtime_ns
        finally:
            os.close(fd)
            os.unlink(probe)

    def remove_unused(self, name: str, *, unused_since_ns: int) -> int | None:
        if "/" in name:                        # a temporary file: nothing claims it
            folder, _, base = name.partition("/")
            if not (_is_hex(folder, 2) and base.startswith(_TMP) and "/" not in base):
                raise ValueError(f"not a temporary blob file: {name!r}")
            path = self.root / folder / base
            st = _regular_stat(path)
            if st is None or _last_used(st) >= unused_since_ns:
                return None
            try:
                path.unlink()
            except FileNotFoundError:
                return None
            return st.st_size
        target = self.path(name)
        if _regular_stat(target) is None:      # gone, or not a file of ours
            return None
        # out of its place under a name of this call's own: a put from now on rewrites it
        taken = target.with_name(f"{_GC}{target.name}.{secrets.token_hex(8)}")
        try:
            os.rename(target, taken)
            st = os.stat(taken, follow_symlinks=False)
        except FileNotFoundError:              # gone, or put back by another collection
            return None
        if not stat_module.S_ISREG(st.st_mode) or _last_used(st) >= unused_since_ns:
            _put_back(taken, target)           # claimed by a put before the rename (or not ours)
            return None
        try:
            taken.unlink()
        except FileNotFoundError:
            return None
        return st.st_size


def _claim(target: Path, size: int) -> bool:
    """True if ``target`` holds ``size`` bytes (the blob is there) and is now claimed: its atime
    set to now, its mtime kept (the module docstring). False if it must be written.

    "Now" is the file system's clock, the one that stamps a write's mtime (a file server's on a
    shared mount: NFS sets it to the server's time), never this machine's, which may be behind:
    the times are set to now by the file system, then the mtime is put back."""
    try:
        st = target.stat()
        if st.st_size != size:
            return False
        os.utime(target)                           # atime and mtime: the file system's now
        claimed = os.stat(target).st_atime_ns
    except (FileNotFoundError, PermissionError):   # gone, or another user's: write it anew
        return False
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.utime(target, ns=(claimed, st.st_mtime_ns))   # not rewritten: its mtime as it was
    return True


def _put_back(taken: Path, target: Path) -> None:
    """A blob taken out by a collection back in its place, unless a file is there: a copy a put
    wrote meanwhile has the same bytes and its own, newer times, which must stay (replacing it
    by the taken-out file would make a blob a live transaction just wrote look unused). A hard
    link never replaces anything; where the file system has none, a rename if nothing is there."""
    try:
        os.link(taken, target, follow_symlinks=False)
    except FileNotFoundError:                  # taken away by another collection
        return
    except FileExistsError:
        pass                                   # the copy in its place stays
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if not os.path.lexists(target):        # no hard links here
            with contextlib.suppress(FileNotFoundError):
                os.rename(taken, target)
                _fsync_dir(target.parent)
            return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(taken)
    _fsync_dir(target.parent)


def _taken_blob(name: str) -> str | None:
    """The blob (hash without its folder's two digits) a ``.gc-<hash>[.<hex>]`` file holds."""
    if not name.startswith(_GC):
        return None
    blob, dot, tag = name[len(_GC):].partition(".")
    if _is_hex(blob, 62) and (not dot or (tag and _HEX.issuperset(tag))):
        return blob
    return None


def _regular_stat(path: Path) -> os.stat_result | None:
    """``path``'s times and size if it is a regular file (links not followed), else None."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st if stat_module.S_ISREG(st.st_mode) else None


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
