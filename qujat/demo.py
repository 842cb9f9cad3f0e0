"""`qujat demo`: every example in every language, rendered and signed.

It sits above both layers (docgen renders, signing signs) so that neither imports the other;
`make run` calls it until the HTTP service exists.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from docgen.examples import example_request
from docgen.outputs import write_outputs
from docgen.model import DocumentType, Language
from docgen.render import DEFAULT_BASE_URL, Renderer
from docgen.request import parse_request
from signing.keys import load_pkcs12, read_secret
from signing.model import Level
from signing.pki import init_dev_pki, load_dev_pki
from signing.sign import sign_pdf

__all__ = ["register"]


def _dev_signer():
    """The dev PKI's enterprise-head key, the PKI made on first use in $QUJAT_DATA_DIR/pki."""
    pki_dir = Path(os.environ.get("QUJAT_DATA_DIR", "data")) / "pki"
    if (pki_dir / "pki.json").is_file():
        pki = load_dev_pki(pki_dir)
    else:
        print(f"creating a dev PKI in {pki_dir} (first use)")
        pki = init_dev_pki(pki_dir)
    return load_pkcs12(pki.p12("enterprise-head"), read_secret(file=pki.password_file)), pki


def cmd_demo(args) -> int:
    """Every example in every language: 5 types × (kk, ru, kk+ru), DOCX + PDF (+ signed PDF)."""
    out = Path(args.out)
    renderer = Renderer(base_url=os.environ.get("QUJAT_PUBLIC_BASE_URL", DEFAULT_BASE_URL))
    signer = pki = None
    if not args.no_sign:
        signer, pki = _dev_signer()
    started = time.perf_counter()
    count = 0
    for doc_type in (t.value for t in DocumentType):
        for lang in Language:
            raw = example_request(doc_type)
            raw["language"] = lang.value
            rendered = renderer.render(parse_request(raw))
            name = f"{doc_type}_{lang.value.replace('+', '-')}"
            write_outputs(out, name, rendered)
            note = ""
            if signer is not None:
                signed = sign_pdf(rendered.pdf, signer, level=Level.B_B, reason="qujat demo")
                tmp = out / f"{name}.signed.pdf.part"
                tmp.write_bytes(signed)
                os.replace(tmp, out / f"{name}.signed.pdf")
                note = ", signed B-B"
            count += 1
            print(f"  {name}.docx / .pdf  ({rendered.timings_ms['fill']:.0f} ms fill, "
                  f"{rendered.timings_ms['convert']:.0f} ms PDF/A{note})")
    print(f"{count} documents written to {out.resolve()} in {time.perf_counter() - started:.1f} s")
    if pki is not None:
        print(f"signed copies: *.signed.pdf — check with: qujat verify FILE --trust {pki.root_cert} --offline")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="render every example in kk, ru and kk+ru into a folder")
    p.add_argument("--out", default="out", help="output directory (default: out)")
    p.add_argument("--no-sign", action="store_true", help="skip the signed copies (no dev PKI needed)")
    p.set_defaults(func=cmd_demo)
