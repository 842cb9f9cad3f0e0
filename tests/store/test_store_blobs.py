"""The content-addressed blob store: layout, atomic writes, idempotent puts, integrity."""
from __future__ import annotations

import hashlib
import os
import threading

import pytest

from store import FileBlobStore, NotFound, StoreError
from tests.store.helpers import blob_files


def test_a_blob_is_stored_under_its_sha256(tmp_path):
    blobs = FileBlobStore(tmp_path / "blobs")
    data = b"%PDF-1.7 \x00\xff" * 1000
    sha = blobs.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert blobs.path(sha) == tmp_path / "blobs" / sha[:2] / sha[2:]
    assert blobs.path(sha).read_bytes() == data
    assert blobs.exists(sha) and blobs.get(sha) == data
    assert list(blob_files(tmp_path / "blobs")) == [f"{sha[:2]}/{sha[2:]}"]      # no temp file left


def test_writing_the_same_content_twice_is_a_no_op(tmp_path):
    blobs = FileBlobStore(tmp_path / "blobs")
    sha = blobs.put(b"same bytes")
    before = blob_files(tmp_path / "blobs")
    assert blobs.put(b"same bytes") == sha
    assert blob_files(tmp_path / "blobs") == before          # same inode, same mtime: not rewritten


def test_a_truncated_file_is_rewritten_by_the_next_put(tmp_path):
    blobs = FileBlobStore(tmp_path / "blobs")
    sha = blobs.put(b"0123456789")
    blobs.path(sha).write_bytes(b"01234")
    assert blobs.put(b"0123456789") == sha
    assert blobs.get(sha) == b"0123456789"


def test_many_threads_putting_the_same_content_leave_one_whole_file(tmp_path):
    blobs = FileBlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 4096
    start = threading.Barrier(16)
    results = []

    def put() -> None:
        start.wait()
        results.append(blobs.put(data))

    threads = [threading.Thread(target=put) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {hashlib.sha256(data).hexdigest()}
    assert len(blob_files(tmp_path / "blobs")) == 1 and blobs.get(results[0]) == data


def test_a_missing_blob_is_not_found_and_a_corrupt_one_is_an_error(tmp_path):
    blobs = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(NotFound):
        blobs.get(hashlib.sha256(b"never stored").hexdigest())
    assert not blobs.exists(hashlib.sha256(b"never stored").hexdigest())
    sha = blobs.put(b"original")
    blobs.path(sha).write_bytes(b"tampered")
    with pytest.raises(StoreError, match="corrupt"):
        blobs.get(sha)


@pytest.mark.parametrize("name", ["../../etc/passwd", "A" * 64, "ab", "g" * 64, ""])
def test_only_sha256_names_are_accepted(tmp_path, name):
    blobs = FileBlobStore(tmp_path / "blobs")
    for call in (blobs.get, blobs.exists, blobs.path):
        with pytest.raises(ValueError):
            call(name)


def test_put_many_stores_each_blob_and_skips_those_it_has(tmp_path):
    blobs = FileBlobStore(tmp_path / "blobs")
    kept = blobs.put(b"already there")
    before = blob_files(tmp_path / "blobs")
    items = [b"%PDF-1.7 first" * 500, b"already there", b"PK second" * 300]
    names = blobs.put_many(items)
    assert names == [hashlib.sha256(x).hexdigest() for x in items] and names[1] == kept
    assert all(blobs.get(n) == x for n, x in zip(names, items))
    after = blob_files(tmp_path / "blobs")
    assert len(after) == 3 and after[f"{kept[:2]}/{kept[2:]}"] == before[f"{kept[:2]}/{kept[2:]}"]


def test_put_many_leaves_no_temporary_file_when_a_rename_fails(tmp_path, monkeypatch):
    blobs = FileBlobStore(tmp_path / "blobs")
    real, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk gone")
        real(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OSError, match="disk gone"):
        blobs.put_many([b"one" * 100, b"two" * 100, b"three" * 100])
    left = blob_files(tmp_path / "blobs")
    assert list(left) == [f"{h[:2]}/{h[2:]}" for h in [hashlib.sha256(b"one" * 100).hexdigest()]]
