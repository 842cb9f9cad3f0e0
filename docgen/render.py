"""Request → DOCX (docxtpl) → PDF/A-2b (warm LibreOffice), as bytes plus what was used.

Nothing here touches a file system layout: callers get bytes and metadata (`Rendered`) and decide
where they go (a CLI folder, the store, an HTTP response). Signing comes after, on the PDF bytes.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from docgen import docxpkg, qr
from docgen.errors import DocgenError
from docgen.model import Language
from docgen.templates import Template, TemplateStore, packaged_templates_dir
from docgen.tokens import canonical_token
from docgen.views import build_view, footer_context
from kazakhstan.dates import today_in

__all__ = ["Rendered", "Renderer", "fill", "compose"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
QR_WIDTH_MM = qr.PRINT_WIDTH_MM


@dataclass(frozen=True)
class Rendered:
    """One document as rendered: the DOCX, the PDF (None when conversion was not asked for) and
    the facts a record keeps about how it was made."""

    doc_type: str
    language: str
    token: str
    verification_url: str
    docx: bytes
    pdf: bytes | None
    templates: tuple[dict, ...]
    rendered_at: str
    name: str = "document"
    timings_ms: dict = field(default_factory=dict, compare=False)


def fill(template: Template, context: dict, images: dict, qr_png: bytes, *, title: str = "") -> bytes:
    """Fill one language's template; returns DOCX bytes.

    The template is prepared once per process (`docgen.docxpkg`: docxtpl's Jinja dialect compiled
    by a sandboxed, autoescaping environment; unchanged parts kept compressed); ``images`` maps
    placeholders to `docgen.views.Image` (PNG or EMF), the QR code goes to ``{{ qr }}``."""
    what = f"template {template.lang}/{template.doc_type} {template.version}"
    prepared = docxpkg.prepared((template.doc_type, template.lang, template.sha256), template.data, what)
    ctx = dict(context)
    ctx["qr"] = docxpkg.Picture(qr_png, "png", QR_WIDTH_MM)
    for name, img in images.items():
        ctx[name] = docxpkg.Picture(img.data, img.format, img.width_mm, img.height_mm)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    return docxpkg.fill(prepared, ctx, what=what, properties={
        "title": title,
        "subject": f"qujat {template.doc_type}",
        "keywords": f"template {template.lang}/{template.doc_type} v{template.version} sha256:{template.sha256}",
        "created": now,
        "modified": now,
    })


def compose(parts: list[bytes], *, fast: bool = True) -> bytes:
    """Join language versions into one DOCX, each starting on a new page.

    The first part's styles, section and footer serve the whole file, which is why the footer of
    a kk+ru document speaks both languages. Parts filled from our templates are joined at the
    level of the zip (`docgen.docxpkg.compose`); anything that does not handle (numbering,
    footnotes, several sections …), or everything when ``fast`` is false, goes through
    docxcompose."""
    if len(parts) == 1:
        return parts[0]
    joined = docxpkg.compose(parts) if fast else None
    if joined is not None:
        return joined
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docxcompose.composer import Composer

    master = Document(io.BytesIO(parts[0]))
    composer = Composer(master)
    for extra in parts[1:]:
        # a page break at the end of what is there, then the next language's document
        master.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        composer.append(Document(io.BytesIO(extra)))
    out = io.BytesIO()
    composer.save(out)
    return out.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", text, flags=re.ASCII).strip("_") or "document"


class Renderer:
    """Turns validated requests into `Rendered` documents. Thread-safe; one per process, built by
    the composition root (`qujat.runtime`) with the process's template set and converter pool.

    ``converter`` is anything with ``convert(docx: bytes) -> bytes`` (a `ConverterPool`); without
    one only `render_docx` works. ``templates`` defaults to the packaged templates. ``today`` gives
    the issue date when a request has none: Kazakhstan's date (Asia/Almaty) by default, never the
    server's local date; a call's own ``today=`` wins."""

    def __init__(self, *, templates: TemplateStore | None = None, converter=None,
                 base_url: str = DEFAULT_BASE_URL, today: Callable[[], dt.date] = today_in):
        self.templates = templates if templates is not None else TemplateStore(packaged_templates_dir())
        self.converter = converter
        self.base_url = base_url
        self._today = today

    def render_docx(self, request, *, token: str | None = None, today: dt.date | None = None,
                    base_url: str | None = None) -> Rendered:
        """DOCX of a validated request (no PDF): view, QR and fill per language, then compose.
        ``base_url``: the public base URL the QR and the footer name for this call (a
        regeneration passes the one its batch recorded), else the renderer's."""
        t0 = time.perf_counter()
        today = today or self._today()
        language = Language(request.language)
        token = canonical_token(token) if token else qr.new_token()
        url = qr.verification_url(base_url or self.base_url, token)
        qr_png = qr.qr_png(url)
        footer = footer_context(language.parts, url, token)
        parts, refs = [], []
        for lang in language.parts:
            template = self.templates.get(request.type, lang)
            view = build_view(request, lang, today=today)
            ctx = {**view.context, **footer}
            title = ctx.get("title") or request.type
            parts.append(fill(template, ctx, view.images, qr_png, title=str(title)))
            refs.append(template.ref)
        docx = compose(parts)
        t1 = time.perf_counter()
        ext = getattr(request, "external_id", None)
        name = f"{_slug(ext) if ext else request.type}_{language.value.replace('+', '-')}"
        return Rendered(
            doc_type=request.type, language=language.value, token=token, verification_url=url,
            docx=docx, pdf=None, templates=tuple(refs),
            rendered_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            name=name, timings_ms={"fill": round((t1 - t0) * 1000, 1)},
        )

    def render(self, request, *, token: str | None = None, today: dt.date | None = None,
               base_url: str | None = None) -> Rendered:
        """DOCX and PDF/A-2b of a validated request (``base_url``: as `render_docx`)."""
        if self.converter is None:
            raise DocgenError("this Renderer has no PDF converter (build it with one: qujat.runtime)")
        r = self.render_docx(request, token=token, today=today, base_url=base_url)
        t0 = time.perf_counter()
        pdf = self.converter.convert(r.docx)
        timings = {**r.timings_ms, "convert": round((time.perf_counter() - t0) * 1000, 1)}
        return dataclasses.replace(r, pdf=pdf, timings_ms=timings)
