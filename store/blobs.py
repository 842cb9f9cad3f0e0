"""Content-addressed blobs: a file's name is its SHA-256.

Writing the same content twice is a no-op, which is what lets an issuance that crashed after
writing its PDF and DOCX but before its transaction committed reuse those files when retried:
at worst a crash leaves files nothing refers to, never a record without its files.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from store.errors import NotFound, StoreError
from store.model import check_sha256

__all__ = ["BlobStore", "FileBlobStore"]


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; its lowercase hex SHA-256. Idempotent."""

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
        data = bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        try:
            if target.stat().st_size == len(data):
                return sha256                      # same name, same size: the same content
        except FileNotFoundError:
            pass
        if not target.parent.is_dir():
            target.parent.mkdir(exist_ok=True)
            _fsync_dir(self.root)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return sha256

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
