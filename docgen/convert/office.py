"""LibreOffice settings shared by the pool and the cold anchor, the input check, and pyuno's
in-process side (bootstrapped once per process, first uses serialised)."""
from __future__ import annotations

import io
import os
import tempfile
import threading
import zipfile

from .errors import ConversionError

__all__ = [
    "PDF_FILTER_DATA", "IMPORT_FILTER", "EXPORT_FILTER", "OFFICE_FLAGS", "RESTART_EXIT_CODE",
    "WARMUP_DOCX", "check_docx", "fast_tmp_root", "LocalUno", "local_uno",
]

#: Export options given to ``writer_pdf_Export`` (``FilterData``).  ``SelectPdfVersion=2`` is
#: PDF/A-2b, which makes LibreOffice embed (subset) every font and write the ``pdfaid`` XMP.
PDF_FILTER_DATA: dict[str, object] = {
    "SelectPdfVersion": 2,
    "EmbedStandardFonts": True,
    "UseTaggedPDF": True,
    "ExportFormFields": False,
}

IMPORT_FILTER = "MS Word 2007 XML"
EXPORT_FILTER = "writer_pdf_Export"
OFFICE_FLAGS = (
    "--headless",
    "--invisible",
    "--nologo",
    "--norestore",
    "--nodefault",
    "--nolockcheck",
    "--nofirststartwizard",
)

#: ``soffice.bin`` exits with this code when it wants to be run again: on the first start with
#: a brand-new profile it creates the profile, then exits 81 (EXITHELPER_NORMAL_RESTART) before
#: it listens for UNO.  The ``oosplash`` launcher behind ``soffice`` relaunches it by itself;
#: a worker started on ``soffice.bin`` directly relaunches it (see ``Worker.start``).
RESTART_EXIT_CODE = 81


def _minimal_docx(text: str) -> bytes:
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
            '</Relationships>'),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f'<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>'),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, xml in parts.items():
            zf.writestr(name, xml)
    return buf.getvalue()


#: What a freshly started worker converts once before it takes jobs: it loads Writer and the
#: PDF export into the office and runs every UNO call of a job once (see :class:`LocalUno`).
WARMUP_DOCX = _minimal_docx("Қазақстан Республикасы — Республика Казахстан")


def check_docx(docx: object) -> None:
    """Cheap structural check before a worker is involved (LibreOffice would otherwise guess
    a format for garbage and possibly "convert" it as plain text)."""
    if not isinstance(docx, (bytes, bytearray, memoryview)):
        raise ConversionError(f"expected DOCX bytes, got {type(docx).__name__}")
    if not docx:
        raise ConversionError("empty input: not a DOCX")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(docx))) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ConversionError(f"input is not a DOCX (not a ZIP package: {exc})") from None
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise ConversionError("input is not a DOCX (no word/document.xml / [Content_Types].xml)")


def fast_tmp_root() -> str:
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


class LocalUno:
    """pyuno's in-process side: the UNO types we use and the lock for first uses.

    LibreOffice 7.4's in-process UNO is not safe for *first* use from several threads at once:
    when two threads make their first calls through fresh proxies concurrently, the invocation
    adapter of one of them may come up without introspection, so pyuno raises
    ``AttributeError: createInstanceWithContext`` (the local or the office's service manager) or
    ``no introspection nor name container!`` (the first ``loadComponentFromURL``).  Once every
    call of a job has been made once, concurrent jobs are fine.  So whatever a worker does while
    it starts -- creating the resolver, connecting, its warm-up conversion -- runs under
    :attr:`lock`, one worker at a time per process.
    """

    def __init__(self) -> None:
        try:
            import uno  # python3-uno, Debian package; the venv has system site-packages
        except ImportError as exc:  # pragma: no cover - depends on the host
            raise ConversionError(
                "python3-uno is not importable: install LibreOffice's UNO bridge "
                "(apt install python3-uno) and use a venv with --system-site-packages"
            ) from exc
        from com.sun.star.beans import PropertyValue
        from com.sun.star.connection import NoConnectException
        from com.sun.star.lang import DisposedException
        from com.sun.star.uno import Exception as UnoException

        self.lock = threading.Lock()
        self.uno = uno
        self.PropertyValue = PropertyValue
        self.NoConnectException = NoConnectException
        self.DisposedException = DisposedException
        self.UnoException = UnoException
        self.context = uno.getComponentContext()
        self.file_url = uno.systemPathToFileUrl

    def resolver(self):
        """A new ``UnoUrlResolver`` (thread-safe)."""
        with self.lock:
            return self.context.ServiceManager.createInstanceWithContext(
                "com.sun.star.bridge.UnoUrlResolver", self.context)

    def props(self, **values) -> tuple:
        """``PropertyValue``s; a dict value becomes a nested ``[]PropertyValue`` (FilterData)."""
        out = []
        for name, value in values.items():
            if isinstance(value, dict):
                value = self.uno.Any("[]com.sun.star.beans.PropertyValue",
                                     self.props(**value))
            out.append(self.PropertyValue(Name=name, Value=value))
        return tuple(out)


_local: LocalUno | None = None
_local_lock = threading.Lock()


def local_uno() -> LocalUno:
    """The process's :class:`LocalUno`, made on first use."""
    global _local
    with _local_lock:
        if _local is None:
            _local = _create_warm()
        return _local


def _create_warm() -> LocalUno:
    local = LocalUno()
    local.resolver()  # the first call through the local service manager, made by one thread
    return local


def _after_fork_in_child() -> None:
    # a lock held by another thread of the parent at fork() time would never be released here
    global _local_lock
    _local_lock = threading.Lock()
    if _local is not None:
        _local.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
