"""`qujat demo`: every example in every language, rendered and signed.

It sits above both layers (docgen renders, signing signs) so that neither imports the other;
`make run` serves the HTTP API (scripts/run-dev); this command renders every example offline.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from docgen.examples import example_request
from docgen.model import DocumentType, Language
from docgen.outputs import write_outputs
from qujat.runtime import open_runtime
from qujat.settings import Settings
from signing.model import Level
from signing.sign import sign_pdf

__all__ = ["register"]


def cmd_demo(args) -> int:
    """Every example in every language: 5 types × (kk, ru, kk+ru), DOCX + PDF (+ signed PDF)."""
    out = Path(args.out)
    settings = Settings.from_env()
    if not args.no_sign and settings.uses_dev_pki and not (settings.dev_pki_dir / "pki.json").is_file():
        print(f"creating a dev PKI in {settings.dev_pki_dir} (first use)")
    started = time.perf_counter()
    count = 0
    with open_runtime(settings, convert=True, sign=not args.no_sign) as rt:
        for doc_type in (t.value for t in DocumentType):
            for lang in Language:
                raw = example_request(doc_type)
                raw["language"] = lang.value
                rendered = rt.renderer.render(rt.parse(raw))
                name = f"{doc_type}_{lang.value.replace('+', '-')}"
                write_outputs(out, name, rendered)
                note = ""
                if rt.signer is not None:
                    signed = sign_pdf(rendered.pdf, rt.signer, level=Level.B_B, reason="qujat demo")
                    tmp = out / f"{name}.signed.pdf.part"
                    tmp.write_bytes(signed)
                    os.replace(tmp, out / f"{name}.signed.pdf")
                    note = ", signed B-B"
                count += 1
                print(f"  {name}.docx / .pdf  ({rendered.timings_ms['fill']:.0f} ms fill, "
                      f"{rendered.timings_ms['convert']:.0f} ms PDF/A{note})")
        anchors = rt.trust_anchors
    print(f"{count} documents written to {out.resolve()} in {time.perf_counter() - started:.1f} s")
    if anchors:
        print(f"signed copies: *.signed.pdf — check with: qujat verify FILE --trust {anchors[0]} --offline")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="render every example in kk, ru and kk+ru into a folder")
    p.add_argument("--out", default="out", help="output directory (default: out)")
    p.add_argument("--no-sign", action="store_true", help="skip the signed copies (no dev PKI needed)")
    p.set_defaults(func=cmd_demo)
