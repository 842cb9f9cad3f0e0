"""Writing a rendered document's files into a folder (the CLI's and the demo's way out)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_outputs"]


def write_outputs(out: Path, name: str, rendered) -> list[Path]:
    """Write the DOCX and PDF next to each other; each file appears whole or not at all."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ext, data in (("docx", rendered.docx), ("pdf", rendered.pdf)):
        if data is None:
            continue
        path = out / f"{name}.{ext}"
        tmp = path.with_suffix(f".{ext}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written.append(path)
    return written
