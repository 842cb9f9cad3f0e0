"""The store in the composition root: DATABASE_URL (default SQLite in the data directory), opened
by `open_runtime(store=True)` and closed with it."""
from __future__ import annotations

import pytest

from qujat.runtime import open_runtime
from qujat.settings import Settings, SettingsError
from store import Store
from tests.store.helpers import new_record


def test_the_default_database_is_sqlite_in_the_data_directory(tmp_path):
    s = Settings.from_env({"QUJAT_DATA_DIR": str(tmp_path / "d")})
    assert s.database_url is None
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'qujat.sqlite3'}"


def test_database_url_is_read_from_the_environment_and_kept_out_of_repr():
    s = Settings.from_env({"DATABASE_URL": "postgresql://qujat:s3cret@db.example/qujat"})
    assert s.effective_database_url == "postgresql://qujat:s3cret@db.example/qujat"
    assert "s3cret" not in repr(s)
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env({"DATABASE_URL": "mysql://u:p@h/db"})


def test_the_runtime_opens_the_store_only_when_asked(tmp_path):
    with open_runtime(Settings(data_dir=tmp_path / "data"), convert=False) as rt:
        assert rt.store is None
    assert not (tmp_path / "data" / "qujat.sqlite3").exists()


def test_the_runtime_opens_and_closes_the_store(database_url, tmp_path, monkeypatch):
    closed = []
    monkeypatch.setattr(Store, "close", lambda self: (closed.append(self), self.engine.dispose()))
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    with open_runtime(settings, convert=False, store=True) as rt:
        made = new_record(rt.store)
        assert rt.store.get(made.id).created_at == made.created_at
        assert closed == []
    assert closed == [rt.store]
    with Store.open(database_url, tmp_path / "data" / "blobs") as again:
        (v1,) = again.versions(made.id)
    assert (tmp_path / "data" / "blobs" / v1.pdf_sha256[:2] / v1.pdf_sha256[2:]).is_file()


def test_the_runtime_closes_the_store_on_error(tmp_path, monkeypatch):
    closed = []
    monkeypatch.setattr(Store, "close", lambda self: (closed.append(self), self.engine.dispose()))
    with pytest.raises(RuntimeError, match="boom"):
        with open_runtime(Settings(data_dir=tmp_path / "data"), convert=False, store=True):
            raise RuntimeError("boom")
    assert len(closed) == 1
    assert (tmp_path / "data" / "qujat.sqlite3").is_file()
