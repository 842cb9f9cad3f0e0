"""Word templates: located, read once, versioned and hashed.

Templates live in `templates/<lang>/<type>.docx` (shipped in the wheel as the package
`qujat_templates`; a deployment may point `Settings.templates_dir` elsewhere); `manifest.yaml` gives
each one's version and SHA-256. A `TemplateStore` is built by the process's composition root
(`qujat.runtime`); it reads each template once and keeps it, so a render never touches the file
system.
"""
from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from docgen.errors import TemplateMissing

__all__ = ["Template", "TemplateStore", "packaged_templates_dir"]


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


def packaged_templates_dir() -> Path:
    """The templates shipped with the package: the data-only package ``qujat_templates`` (the
    repository's top-level templates/ folder, mapped by setup.py; an editable install maps it to
    the working tree). Raises TemplateMissing with what to do when it is not installed."""
    try:
        spec = importlib.util.find_spec("qujat_templates")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        if (Path(loc) / "manifest.yaml").is_file():
            return Path(loc)
    raise TemplateMissing(
        "the packaged templates (qujat_templates) are not installed: reinstall qujat, "
        "or set QUJAT_TEMPLATES_DIR to a folder with manifest.yaml, kk/ and ru/"
    )
