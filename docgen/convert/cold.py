"""One fresh ``soffice --convert-to pdf`` per document: the benchmark anchor, not the product."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from .errors import ConversionError
from .office import EXPORT_FILTER, OFFICE_FLAGS, PDF_FILTER_DATA, check_docx

__all__ = ["convert_cold"]


def _filter_options() -> str:
    """``PDF_FILTER_DATA`` in the JSON form ``--convert-to`` accepts."""
    return ",".join(
        f'"{k}":{{"type":"{"boolean" if isinstance(v, bool) else "long"}",'
        f'"value":"{str(v).lower() if isinstance(v, bool) else v}"}}'
        for k, v in PDF_FILTER_DATA.items()
    )


def convert_cold(docx: bytes, soffice: str = "soffice", timeout: float = 120.0) -> bytes:
    """One fresh ``soffice --headless --convert-to pdf`` per call (own temp profile), PDF/A-2b.

    Benchmark anchor only -- the product path uses :class:`ConverterPool`.
    """
    check_docx(docx)
    with tempfile.TemporaryDirectory(prefix="qujat-cold-") as tmp:
        tmpd = Path(tmp)
        src = tmpd / "in.docx"
        src.write_bytes(bytes(docx))
        cmd = [
            soffice,
            *OFFICE_FLAGS,
            f"-env:UserInstallation={(tmpd / 'profile').as_uri()}",
            "--convert-to",
            f"pdf:{EXPORT_FILTER}:{{{_filter_options()}}}",
            "--outdir",
            str(tmpd / "out"),
            str(src),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True,
                                env={**os.environ, "TMPDIR": tmp})
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ConversionError(f"cold soffice conversion exceeded {timeout} s") from None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers, if any
            except (ProcessLookupError, PermissionError):
                pass
        out = tmpd / "out" / "in.pdf"
        if proc.returncode != 0 or not out.exists():
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            raise ConversionError(f"cold soffice conversion failed (code {proc.returncode}) {tail}")
        return out.read_bytes()
