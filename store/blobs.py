"""Content-addressed blobs: a file's name is its SHA-256.

Writing the same content twice is a no-op, which is what lets an issuance that crashed after
writing its PDF and DOCX but before its transaction committed reuse those files when retried:
at worst a crash leaves files nothing refers to, never a record without its files.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from store.errors import NotFound, StoreError
from store.model import check_sha256

__all__ = ["BlobStore", "FileBlobStore"]


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; its lowercase hex SHA-256. Idempotent."""

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """`put` each of ``items`` (all of them durable when it returns); their SHA-256s."""

    def get(self, sha256: str) -> bytes:
        """The content (`NotFound` if absent)."""

    def exists(self, sha256: str) -> bool: ...


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
                try:
                    if target.stat().st_size == len(data):
                        continue                   # same name, same size: the same content
                except FileNotFoundError:
                    pass
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
