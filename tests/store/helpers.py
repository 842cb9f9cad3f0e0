"""Helpers of the store tests: a controllable clock, version content, a record with defaults."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from pathlib import Path

from store import NewVersion, SignatureInfo, Store, TemplateRef

ROOT = Path(__file__).resolve().parents[2]
PG_TMP = ROOT / "scripts" / "pg-tmp"
BACKENDS = ["sqlite", "postgresql"]


class Clock:
    """An injectable UTC clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=dt.timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += dt.timedelta(**delta)


def content(seed: str = "1", *, signed: bool = True) -> NewVersion:
    """A version's content: PDF and DOCX bytes distinct per seed, kk+ru templates, a signature."""
    sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    when = dt.datetime(2025, 3, 14, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    return NewVersion(
        pdf=b"%PDF-1.7 " + seed.encode() * 100,
        docx=b"PK\x03\x04 " + seed.encode() * 80,
        templates={"kk": TemplateRef("3", sha("kk" + seed)), "ru": TemplateRef("3", sha("ru" + seed))},
        signatures=(SignatureInfo("Жер қатынастары бөлімі, БСН 123456789012", when),) if signed else (),
    )


def new_record(store: Store, **overrides):
    """create_record with sensible defaults; keyword arguments override them."""
    kw = dict(client_id="akimat-1", doc_type="land_right_act", language="kk+ru",
              data={"owner": "Әлібек Нұрланұлы", "area_ha": 0.12}, token=secrets.token_urlsafe(24),
              content=content(), actor="key-issuer", external_id=None)
    kw.update(overrides)
    return store.create_record(**kw)


def blob_files(blob_dir: Path) -> dict[str, tuple[int, int]]:
    """Every file under the blob folder: relative name → (inode, mtime_ns)."""
    return {str(p.relative_to(blob_dir)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(blob_dir.rglob("*")) if p.is_file()}
