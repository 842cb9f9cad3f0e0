"""Word templates: located, read once, versioned and hashed.

Templates live in `templates/<lang>/<type>.docx` beside the packages (or in QUJAT_TEMPLATES_DIR);
`templates/manifest.yaml` gives each one's version. The bytes are read once per process and kept,
so a render never touches the file system.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from docgen.errors import TemplateMissing

__all__ = ["Template", "TemplateStore", "default_store"]


@dataclass(frozen=True)
class Template:
    doc_type: str
    lang: str
    version: str
    sha256: str
    data: bytes

    @property
    def ref(self) -> dict:
        """What a rendered document records about its template."""
        return {"type": self.doc_type, "lang": self.lang, "version": self.version, "sha256": self.sha256}


class TemplateStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        manifest = self.root / "manifest.yaml"
        if not manifest.is_file():
            raise TemplateMissing(f"no template manifest at {manifest}")
        self._versions = yaml.safe_load(manifest.read_text("utf-8")) or {}
        self._cache: dict[tuple[str, str], Template] = {}
        self._lock = threading.Lock()

    def declared_sha256(self, doc_type: str, lang: str) -> str | None:
        entry = (self._versions.get(doc_type) or {}).get(lang) or {}
        return entry.get("sha256")

    def get(self, doc_type: str, lang: str) -> Template:
        key = (doc_type, lang)
        t = self._cache.get(key)
        if t is not None:
            return t
        with self._lock:
            path = self.root / lang / f"{doc_type}.docx"
            try:
                data = path.read_bytes()
                version = str(self._versions[doc_type][lang]["version"])
            except FileNotFoundError:
                raise TemplateMissing(f"template {lang}/{doc_type}.docx not found in {self.root}") from None
            except KeyError:
                raise TemplateMissing(f"template {lang}/{doc_type} has no version in manifest.yaml") from None
            t = Template(doc_type, lang, version, hashlib.sha256(data).hexdigest(), data)
            self._cache[key] = t
            return t


_default: TemplateStore | None = None


def default_store() -> TemplateStore:
    global _default
    if _default is None:
        root = os.environ.get("QUJAT_TEMPLATES_DIR") or Path(__file__).resolve().parents[1] / "templates"
        _default = TemplateStore(Path(root))
    return _default
