"""`qujat serve|issue|keys`: the service's commands (the HTTP API, issuing without HTTP, API keys).

Each builds its parts through the composition root from `Settings.from_env()`; `issue` goes
through the same application layer (`qujat.service`) as `POST /documents`. The heavy imports
(the store, the web framework, the signing stack) happen in the command that needs them, so that
registering these commands costs the other commands nothing.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

from qujat.settings import Settings

__all__ = ["register"]

EXIT_INVALID = 2


def cmd_serve(args) -> int:
    """Run the HTTP API with uvicorn (one process: the LibreOffice pool and the keys live in it)."""
    import uvicorn

    from qujat.api import create_app

    settings = Settings.from_env()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                proxy_headers=args.proxy_headers, server_header=False)
    return 0


def cmd_issue(args) -> int:
    """Render, sign and store one request, as POST /documents does; write the signed PDF and
    the DOCX into --out and print the record as JSON. A request with `signers` makes a record
    awaiting its officials' signatures: no file is written, and the JSON carries the first
    signer's digest (`signing`, as GET /documents/{id}/signing gives it)."""
    try:
        raw = Path(args.request).read_bytes() if args.request != "-" else sys.stdin.buffer.read()
    except OSError as e:
        print(f"qujat issue: cannot read {args.request}: {e.strerror}", file=sys.stderr)
        return EXIT_INVALID
    if (args.key is None) != (args.password_file is None):
        print("qujat issue: --key and --password-file go together", file=sys.stderr)
        return EXIT_INVALID
    from docgen.errors import RequestInvalid
    from docgen.outputs import write_outputs
    from qujat import service
    from qujat.runtime import open_runtime

    settings = Settings.from_env()
    if args.key is not None:         # this key signs every role of this one document
        settings = dataclasses.replace(settings, signer_pkcs12=Path(args.key),
                                       signer_password_file=Path(args.password_file),
                                       signer2_pkcs12=None, signer2_password_file=None)
    try:  # before LibreOffice starts: a bad request costs nothing
        settings.parse_request(service.decode(raw))
    except RequestInvalid as e:
        _print_invalid(e)
        return EXIT_INVALID
    out = Path(args.out)
    with open_runtime(settings, convert=True, sign=True, store=True) as rt:
        try:
            issued = service.issue(rt, raw, caller=service.Caller.command_line())
        except RequestInvalid as e:
            _print_invalid(e)
            return EXIT_INVALID
        except service.ExternalIdTaken as e:
            print(f"qujat issue: {e}", file=sys.stderr)
            return EXIT_INVALID
        record = issued.record
        if record.status.value == "awaiting_signature":      # officials sign it themselves
            from qujat import signflow

            print(json.dumps({
                "id": str(record.id), "token": record.token, "status": record.status.value,
                "created": issued.created,
                "verification_url": f"{settings.public_base_url}/v/{record.token}",
                "signing": signflow.next_step(rt, record.id).to_json(),
            }, ensure_ascii=False))
            return 0
        _, pdf = service.current_file(rt, record.id, "pdf")
        _, docx = service.current_file(rt, record.id, "docx")
        versions = service.versions(rt, record.id)
    name = f"{record.external_id or record.type}_{record.language.replace('+', '-')}"
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    for path in write_outputs(out, name, types.SimpleNamespace(pdf=pdf, docx=docx)):
        print(path)
    print(json.dumps({
        "id": str(record.id), "token": record.token, "status": record.status.value,
        "created": issued.created,
        "verification_url": f"{settings.public_base_url}/v/{record.token}",
        "signatures": [s.to_json() for s in versions[-1].signatures],
    }, ensure_ascii=False))
    return 0


def _print_invalid(e) -> None:
    print(f"qujat issue: the request is invalid ({len(e.problems)} problem(s)); nothing was issued:",
          file=sys.stderr)
    for p in e.problems:
        print(f"  {p}", file=sys.stderr)


def _open_store():
    from qujat.runtime import open_runtime

    return open_runtime(Settings.from_env(), convert=False, store=True)


def _actor() -> str:
    from qujat.service import Caller

    return Caller.command_line().actor


def cmd_keys_create(args) -> int:
    """Make an API key; its facts first, the key itself alone on the last line (shown once)."""
    from qujat.api.auth import SCOPES

    unknown = sorted(set(args.scope) - set(SCOPES))
    if unknown:
        print(f"qujat keys create: unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}",
              file=sys.stderr)
        return EXIT_INVALID
    with _open_store() as rt:
        key, secret = rt.store.create_api_key(args.name, args.scope,
                                              actor=_actor())
    print(f"API key {key.id} ({key.name}) with scope(s) {' '.join(key.scopes)}; it is shown only now:")
    print(secret)
    return 0


def cmd_keys_list(args) -> int:
    with _open_store() as rt:
        keys = rt.store.api_keys()
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        print(f"{k.id}  {state:<24} {' '.join(k.scopes):<40} {k.name}")
    return 0


def cmd_keys_revoke(args) -> int:
    from store import NotFound

    with _open_store() as rt:
        try:
            key = rt.store.revoke_api_key(args.id, actor=_actor())
        except NotFound as e:
            print(f"qujat keys revoke: {e}", file=sys.stderr)
            return EXIT_INVALID
    print(f"API key {key.id} ({key.name}) revoked")
    return 0


def cmd_keys_check(args) -> int:
    """Exit 0 if the key in the file is live (scripts: is the saved dev key still good?)."""
    try:
        secret = Path(args.key_file).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return 1
    with _open_store() as rt:
        key = rt.store.verify_api_key(secret)
    return 0 if key is not None and set(args.scope) <= set(key.scopes) else 1


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (and the public page)",
                       description="Serve the HTTP API with uvicorn; settings from the environment "
                                   "(QUJAT_*, DATABASE_URL). OpenAPI at /openapi.json.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--proxy-headers", action="store_true",
                   help="trust X-Forwarded-* from the proxy in front (uvicorn's --forwarded-allow-ips)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("issue", help="render, sign and store a request (as POST /documents, no HTTP)",
                       description="Writes DIR/<name>.pdf (signed) and DIR/<name>.docx and prints the "
                                   "record as JSON. Invalid input: exit 2, every problem with its field "
                                   "path on stderr, nothing stored.")
    p.add_argument("request", help="request JSON file, or - for standard input")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--key", metavar="P12", help="sign with this PKCS#12 (default: QUJAT_SIGNER_PKCS12 or the dev PKI)")
    p.add_argument("--password-file", metavar="F", help="file whose first line is the key's password")
    p.set_defaults(func=cmd_issue)

    keys = sub.add_parser("keys", help="API keys: create, list, revoke, check")
    ks = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    p = ks.add_parser("create", help="make an API key (printed once, as the last line)")
    p.add_argument("--scope", action="append", required=True,
                   help="documents:issue, documents:annul, documents:read, batches:run (repeatable)")
    p.add_argument("--name", default="api client", help="who the key is for (default: 'api client')")
    p.set_defaults(func=cmd_keys_create)
    p = ks.add_parser("list", help="every API key: id, state, scopes, name (never the key)")
    p.set_defaults(func=cmd_keys_list)
    p = ks.add_parser("revoke", help="revoke an API key by its id")
    p.add_argument("id")
    p.set_defaults(func=cmd_keys_revoke)
    p = ks.add_parser("check", help="exit 0 if the API key in FILE is live (and has every --scope)")
    p.add_argument("key_file", metavar="FILE")
    p.add_argument("--scope", action="append", default=[])
    p.set_defaults(func=cmd_keys_check)
