"""`qujat example|schema|render|demo`: the document layer's subcommands."""
from __future__ import annotations

import json
import os
import sys
import time
from importlib import resources
from pathlib import Path

from docgen.errors import RequestInvalid
from docgen.model import DocumentType, Language

__all__ = ["register", "example_request"]

EXIT_INVALID = 2


def example_request(doc_type: str) -> dict:
    text = resources.files("docgen").joinpath("examples", f"{DocumentType(doc_type).value}.json").read_text("utf-8")
    return json.loads(text)


def _types() -> list[str]:
    return [t.value for t in DocumentType]


def _base_url() -> str:
    return os.environ.get("QUJAT_PUBLIC_BASE_URL", "http://127.0.0.1:8000")


def cmd_example(args) -> int:
    print(json.dumps(example_request(args.type), ensure_ascii=False, indent=2))
    return 0


def cmd_schema(args) -> int:
    from docgen.request import json_schema

    print(json.dumps(json_schema(args.type), ensure_ascii=False, indent=2))
    return 0


def _write(out: Path, name: str, rendered) -> list[Path]:
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


def cmd_render(args) -> int:
    from docgen.render import Renderer
    from docgen.request import parse_request

    try:
        raw = Path(args.request).read_bytes() if args.request != "-" else sys.stdin.buffer.read()
    except OSError as e:
        print(f"qujat render: cannot read {args.request}: {e.strerror}", file=sys.stderr)
        return EXIT_INVALID
    try:
        request = parse_request(raw)
    except RequestInvalid as e:
        print(f"qujat render: the request is invalid ({len(e.problems)} problem(s)); nothing was written:",
              file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_INVALID
    renderer = Renderer(base_url=args.base_url or _base_url())
    rendered = renderer.render_docx(request, token=args.token) if args.no_pdf else \
        renderer.render(request, token=args.token)
    name = args.name or rendered.name
    for path in _write(Path(args.out), name, rendered):
        print(path)
    meta = {
        "type": rendered.doc_type, "language": rendered.language, "token": rendered.token,
        "verification_url": rendered.verification_url, "templates": list(rendered.templates),
        "timings_ms": rendered.timings_ms,
    }
    print(json.dumps(meta, ensure_ascii=False), file=sys.stderr)
    return 0


def _dev_signer():
    """The dev PKI's enterprise-head key, the PKI made on first use in $QUJAT_DATA_DIR/pki.

    Imported lazily: the document layer does not depend on the signing layer."""
    from signing.keys import load_pkcs12, read_secret
    from signing.pki import init_dev_pki, load_dev_pki

    pki_dir = Path(os.environ.get("QUJAT_DATA_DIR", "data")) / "pki"
    if (pki_dir / "pki.json").is_file():
        pki = load_dev_pki(pki_dir)
    else:
        print(f"creating a dev PKI in {pki_dir} (first use)")
        pki = init_dev_pki(pki_dir)
    return load_pkcs12(pki.p12("enterprise-head"), read_secret(file=pki.password_file)), pki


def cmd_demo(args) -> int:
    """Every example in every language: 5 types × (kk, ru, kk+ru), DOCX + PDF (+ signed PDF)."""
    from docgen.render import Renderer
    from docgen.request import parse_request

    out = Path(args.out)
    renderer = Renderer(base_url=_base_url())
    signer = pki = None
    if not args.no_sign:
        from signing.model import Level
        from signing.sign import sign_pdf

        signer, pki = _dev_signer()
    started = time.perf_counter()
    count = 0
    for doc_type in _types():
        for lang in Language:
            raw = example_request(doc_type)
            raw["language"] = lang.value
            rendered = renderer.render(parse_request(raw))
            name = f"{doc_type}_{lang.value.replace('+', '-')}"
            _write(out, name, rendered)
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
    p = sub.add_parser("example", help="print a valid example request of a document type")
    p.add_argument("type", choices=_types())
    p.set_defaults(func=cmd_example)

    p = sub.add_parser("schema", help="print the JSON Schema of a document type's request")
    p.add_argument("type", choices=_types())
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("render", help="render a request to DOCX and PDF/A-2b (unsigned)",
                       description="Writes DIR/<name>.docx and DIR/<name>.pdf. Invalid input: exit 2, "
                                   "every problem with its field path on stderr, nothing written.")
    p.add_argument("request", help="request JSON file, or - for standard input")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--token", help="verification token for the QR (default: a new random one)")
    p.add_argument("--name", help="file name without extension (default: external_id or type, and language)")
    p.add_argument("--base-url", help="public base URL for the QR (default: $QUJAT_PUBLIC_BASE_URL)")
    p.add_argument("--no-pdf", action="store_true", help="write the DOCX only")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("demo", help="render every example in kk, ru and kk+ru into a folder")
    p.add_argument("--out", default="out", help="output directory (default: out)")
    p.add_argument("--no-sign", action="store_true", help="skip the signed copies (no dev PKI needed)")
    p.set_defaults(func=cmd_demo)
