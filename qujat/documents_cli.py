"""`qujat example|schema|render`: the document subcommands (a thin shell over docgen)."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from docgen.errors import RequestInvalid
from docgen.examples import example_request
from docgen.model import DocumentType
from docgen.outputs import write_outputs
from docgen.tokens import TokenError, canonical_token
from qujat.runtime import open_runtime
from qujat.settings import Settings, SettingsError

__all__ = ["register"]

EXIT_INVALID = 2


def _types() -> list[str]:
    return [t.value for t in DocumentType]


def cmd_example(args) -> int:
    print(json.dumps(example_request(args.type), ensure_ascii=False, indent=2))
    return 0


def cmd_schema(args) -> int:
    from docgen.request import json_schema

    print(json.dumps(json_schema(args.type), ensure_ascii=False, indent=2))
    return 0


def cmd_render(args) -> int:
    try:
        raw = Path(args.request).read_bytes() if args.request != "-" else sys.stdin.buffer.read()
    except OSError as e:
        print(f"qujat render: cannot read {args.request}: {e.strerror}", file=sys.stderr)
        return EXIT_INVALID
    try:
        settings = Settings.from_env()
        if args.base_url:
            settings = dataclasses.replace(settings, public_base_url=args.base_url.rstrip("/"))
    except SettingsError as e:
        print(f"qujat render: {e}", file=sys.stderr)
        return EXIT_INVALID
    token = None
    if args.token:
        try:
            token = canonical_token(args.token)
        except TokenError as e:
            print(f"qujat render: --token: {e}", file=sys.stderr)
            return EXIT_INVALID
    try:  # before LibreOffice starts: a bad request costs nothing
        request = settings.parse_request(raw)
    except RequestInvalid as e:
        print(f"qujat render: the request is invalid ({len(e.problems)} problem(s)); "
              "nothing was written:", file=sys.stderr)
        for p in e.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_INVALID
    with open_runtime(settings, convert=not args.no_pdf) as rt:
        rendered = rt.renderer.render_docx(request, token=token) if args.no_pdf else \
            rt.renderer.render(request, token=token)
    name = args.name or rendered.name
    for path in write_outputs(Path(args.out), name, rendered):
        print(path)
    meta = {
        "type": rendered.doc_type, "language": rendered.language, "token": rendered.token,
        "verification_url": rendered.verification_url, "templates": list(rendered.templates),
        "timings_ms": rendered.timings_ms,
    }
    print(json.dumps(meta, ensure_ascii=False), file=sys.stderr)
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
    p.add_argument("--token", help="verification code for the QR, grouped or not (default: a new "
                                    "random one)")
    p.add_argument("--name", help="file name without extension (default: external_id or type, and language)")
    p.add_argument("--base-url", help="public base URL for the QR (default: $QUJAT_PUBLIC_BASE_URL)")
    p.add_argument("--no-pdf", action="store_true", help="write the DOCX only")
    p.set_defaults(func=cmd_render)
