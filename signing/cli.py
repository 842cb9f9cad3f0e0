"""`qujat sign`, `qujat sign-digest`, `qujat verify`, `qujat extend` and `qujat pki init|serve`.

Secrets (PKCS#12 password, token PIN) come from a file or an environment variable;
there is deliberately no option taking the secret itself. Exit status: 0 success
(for verify: only TOTAL_PASSED), 1 verification not passed, 2 bad input or setup.

`qujat verify` is online by default: an operator checking a file wants its revocation
status, and the fetch policy keeps that safe (only chains ending at a --trust anchor,
only public addresses, a size cap and a time budget). --offline fetches nothing (the
library's default, `verify_pdf(..., policy=None)`); --allow-private-network is for the
dev PKI, which serves CRL/OCSP on loopback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import SigningPackageError
from .model import Level

__all__ = ["register"]

EXIT_OK, EXIT_NOT_PASSED, EXIT_ERROR = 0, 1, 2


def _quiet_libraries(args: argparse.Namespace) -> None:
    """pyHanko logs every failed check with a traceback; the report already says what
    failed, so the CLI shows library logs only with --verbose."""
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return
    for name in ("pyhanko", "pyhanko_certvalidator", "signing"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _err(message: str) -> int:
    print(f"qujat: {message}", file=sys.stderr)
    return EXIT_ERROR


def _load_signer(args: argparse.Namespace):
    from .certload import load_certs
    from .keys import load_pkcs11, load_pkcs12, read_secret

    if args.pkcs12:
        if not (args.password_file or args.password_env):
            raise SigningPackageError("--pkcs12 needs --password-file or --password-env")
        password = read_secret(file=args.password_file, env=args.password_env)
        return load_pkcs12(args.pkcs12, password)
    if args.pkcs11_module:
        if not (args.token_label and args.key_label):
            raise SigningPackageError("--pkcs11-module needs --token-label and --key-label")
        if not (args.pin_file or args.pin_env):
            raise SigningPackageError("--pkcs11-module needs --pin-file or --pin-env")
        pin = read_secret(file=args.pin_file, env=args.pin_env)
        cert = load_certs([args.cert])[0] if args.cert else None
        return load_pkcs11(
            args.pkcs11_module,
            token_label=args.token_label,
            key_label=args.key_label,
            pin=pin,
            signing_cert=cert,
            other_certs=load_certs(args.chain or []),
        )
    raise SigningPackageError("give a key: --pkcs12 FILE or --pkcs11-module LIB")


def _cmd_sign(args: argparse.Namespace) -> int:
    from .certload import load_certs
    from .sign import sign_pdf

    _quiet_libraries(args)
    try:
        signer = _load_signer(args)
        signed = sign_pdf(
            Path(args.input).read_bytes(),
            signer,
            level=Level.from_config(args.level),
            reason=args.reason,
            location=args.location,
            name=args.name,
            tsa_url=args.tsa,
            certify=args.certify,
            field_name=args.field,
            trust_roots=load_certs(args.trust) if args.trust else None,
        )
    except (SigningPackageError, OSError, ValueError) as exc:
        return _err(str(exc))
    Path(args.out).write_bytes(signed)
    print(f"signed {args.input} -> {args.out} ({args.level})")
    return EXIT_OK


def _cmd_sign_digest(args: argparse.Namespace) -> int:
    """Sign a pre-computed SHA-256 digest (base64) as NCALayer's basics module does: print
    the detached CAdES (base64, the last line) for `embed` in the two-step signing."""
    import base64
    import binascii

    from .deferred import make_detached_cms
    from .verify import parse_moment

    _quiet_libraries(args)
    try:
        digest = base64.b64decode(args.digest, validate=True)
    except (binascii.Error, ValueError):
        return _err("--digest is not valid base64")
    if len(digest) != 32:
        return _err(f"--digest has {len(digest)} bytes; a SHA-256 digest has 32")
    try:
        when = parse_moment(args.signing_time) if args.signing_time else None
    except ValueError:
        return _err(f"--signing-time {args.signing_time!r} is not an ISO-8601 moment, e.g. 2021-06-01T00:00:00Z")
    try:
        signer = _load_signer(args)
    except (SigningPackageError, OSError, ValueError) as exc:
        return _err(str(exc))
    try:
        der = make_detached_cms(digest, signer, signing_time=when)
    except (SigningPackageError, ValueError) as exc:
        return _err(str(exc))
    finally:
        if hasattr(signer, "close"):  # a PKCS#11 signer owns its session
            signer.close()
    print(base64.b64encode(der).decode("ascii"))
    return EXIT_OK


def _print_human(report) -> None:
    print(f"indication: {report.indication.value}")
    if not report.signatures:
        print("no signatures found")
    for s in report.signatures:
        sub = f" / {s.sub_indication.value}" if s.sub_indication else ""
        who = s.signer
        print(f"- {s.field}: {s.indication.value}{sub} [{s.level.value}]")
        print(f"  signer: {who.common_name} IIN {who.iin or '-'} BIN {who.bin or '-'} {who.organization}".rstrip())
        if who.roles:
            print(f"  roles: {', '.join(who.roles)}")
        print(
            f"  intact={s.intact} whole_document={s.covers_whole_document} "
            f"modified_after={s.modified_after_signing} trusted={s.trusted} revoked={s.revoked}"
        )
        print(f"  signing time: {s.signing_time}  timestamp: {s.timestamp_time}")
        for note in s.notes:
            print(f"  note: {note}")
    _print_fetches(report)


def _fetch_policy(args: argparse.Namespace):
    from .netfetch import FetchPolicy

    if not args.online:
        return FetchPolicy()
    return FetchPolicy(
        enabled=True,
        allow_private=args.allow_private_network,
        time_budget_s=args.fetch_budget,
        per_request_timeout_s=min(FetchPolicy.per_request_timeout_s, args.fetch_budget),
    )


def _print_fetches(report) -> None:
    for f in report.fetches:
        if f.outcome.value != "FETCHED":
            where = f" {f.url}" if f.url else ""
            print(f"fetch {f.kind}{where}: {f.outcome.value.lower()}: {f.reason}")


def _read_capped(path: Path) -> bytes:
    """The file's bytes; one larger than a verification may read is refused unread."""
    from .pdfcheck import DEFAULT_LIMITS, InputLimitError

    size = path.stat().st_size
    if size > DEFAULT_LIMITS.max_file_size:
        raise InputLimitError(
            f"{path.name} has {size:,} bytes; at most {DEFAULT_LIMITS.max_file_size:,} are verified"
        )
    return path.read_bytes()


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import parse_moment, verify_pdf

    _quiet_libraries(args)
    try:
        at = parse_moment(args.at) if args.at else None
        report = verify_pdf(
            _read_capped(Path(args.file)),
            trust=args.trust or [],
            crls=args.crl or [],
            at=at,
            policy=_fetch_policy(args),
            require_revocation=args.require_revocation,
        )
    except (SigningPackageError, OSError, ValueError) as exc:
        return _err(str(exc))
    except Exception as exc:  # noqa: BLE001 - a message, not a traceback, whatever the file holds
        logging.getLogger(__name__).info("verification failed", exc_info=True)
        return _err(f"the file could not be verified ({type(exc).__name__}); run with -v for details")
    if args.json:
        print(report.to_json())
    else:
        _print_human(report)
    return EXIT_OK if report.passed else EXIT_NOT_PASSED


def _cmd_extend(args: argparse.Namespace) -> int:
    """Extend a signed PDF to PAdES B-LTA: the validation data of every signature's and
    timestamp's chain in the DSS, then a document timestamp over the whole file."""
    from .certload import load_certs
    from .ltv import extend_to_blta
    from .netfetch import FetchPolicy
    from .sign import timestamper_for

    _quiet_libraries(args)
    try:
        extended = extend_to_blta(
            Path(args.input).read_bytes(),
            timestamper=timestamper_for(args.tsa),
            trust_roots=load_certs(args.trust),
            crls=args.crl or [],
            policy=FetchPolicy(enabled=args.online, allow_private=args.allow_private_network),
        )
    except (SigningPackageError, OSError, ValueError) as exc:
        return _err(str(exc))
    except Exception as exc:  # noqa: BLE001 - a message, not a traceback, whatever the file holds
        logging.getLogger(__name__).info("extension failed", exc_info=True)
        return _err(f"the file could not be extended ({type(exc).__name__}); run with -v for details")
    Path(args.out).write_bytes(extended)
    print(f"extended {args.input} -> {args.out} (B-LTA)")
    return EXIT_OK


def _cmd_pki_init(args: argparse.Namespace) -> int:
    from .pki import init_dev_pki

    try:
        pki = init_dev_pki(args.dir, port=args.port)
    except (SigningPackageError, OSError) as exc:
        return _err(str(exc))
    print(f"dev PKI in {pki.root}")
    print(f"  trust anchor: {pki.root_cert}")
    print(f"  signers: {', '.join(str(pki.p12(s)) for s in pki.signers)}")
    print(f"  password file: {pki.password_file}")
    print(f"  serve with: qujat pki serve {pki.root}  (TSA {pki.tsa_url})")
    return EXIT_OK


def _cmd_pki_serve(args: argparse.Namespace) -> int:
    from .pki import PkiServer

    try:
        server = PkiServer(args.dir, quiet=False)
    except (SigningPackageError, OSError) as exc:
        return _err(str(exc))
    pki = server.pki
    print(f"serving on {pki.base_url}: TSA {pki.tsa_url}  OCSP {pki.ocsp_url}  CRL {pki.crl_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("give seconds between 0 and 600")
    return value


def _add_key_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("PKCS#12 key")
    g.add_argument("--pkcs12", metavar="FILE", help="PKCS#12 (.p12/.pfx) key container")
    g.add_argument("--password-file", metavar="F", help="file whose first line is the password")
    g.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    t = p.add_argument_group("PKCS#11 token")
    t.add_argument("--pkcs11-module", metavar="LIB", help="PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so")
    t.add_argument("--token-label", metavar="LABEL")
    t.add_argument("--key-label", metavar="LABEL", help="label of the private key (and certificate)")
    t.add_argument("--pin-file", metavar="F", help="file whose first line is the user PIN")
    t.add_argument("--pin-env", metavar="VAR", help="environment variable holding the user PIN")
    t.add_argument("--cert", metavar="FILE", help="signer certificate, if not stored on the token")
    t.add_argument("--chain", metavar="FILE", action="append", help="CA certificate(s) to embed")


def register(subparsers) -> None:
    """Add `sign`, `sign-digest`, `verify`, `extend` and `pki` to the `qujat` command."""
    sign = subparsers.add_parser("sign", help="sign a PDF (PAdES B-B, B-T or B-LT)", description=_cmd_sign.__doc__)
    sign.add_argument("input", metavar="IN.pdf")
    sign.add_argument("--out", required=True, metavar="OUT.pdf")
    _add_key_options(sign)
    sign.add_argument("--level", default="B-B", choices=[lv.value for lv in Level if lv is not Level.B_LTA])
    sign.add_argument("--tsa", metavar="URL", help="RFC 3161 timestamp service (needed for B-T and B-LT)")
    sign.add_argument("--reason")
    sign.add_argument("--location")
    sign.add_argument("--name", help="signer name shown by PDF readers (default: certificate CN)")
    sign.add_argument("--field", help="signature field name (default: next SignatureN)")
    sign.add_argument("--certify", action="store_true", help="certification signature (DocMDP: forms and signatures allowed)")
    sign.add_argument("--trust", metavar="CERT", action="append", help="trust anchor for B-LT revocation collection")
    sign.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    sign.set_defaults(func=_cmd_sign)

    sd = subparsers.add_parser(
        "sign-digest", help="sign a SHA-256 digest (base64); print the detached CMS (base64)",
        description=_cmd_sign_digest.__doc__,
    )
    sd.add_argument("--digest", required=True, metavar="BASE64", help="SHA-256 digest from the two-step signing")
    sd.add_argument("--signing-time", metavar="ISO-8601", help="signing-time attribute (default now)")
    _add_key_options(sd)
    sd.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    sd.set_defaults(func=_cmd_sign_digest)

    verify = subparsers.add_parser("verify", help="verify the signatures of a PDF; exit 0 only on TOTAL_PASSED")
    verify.add_argument("file", metavar="FILE.pdf")
    verify.add_argument("--trust", metavar="CERT", action="append", help="trust anchor certificate (PEM/DER), repeatable")
    verify.add_argument("--crl", metavar="FILE", action="append", help="CRL file (PEM/DER), repeatable")
    verify.add_argument("--at", metavar="ISO-8601", help="validate at this moment, e.g. 2021-06-01T00:00:00Z")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    net = verify.add_mutually_exclusive_group()
    net.add_argument(
        "--online", dest="online", action="store_true", default=True,
        help="download OCSP/CRL named in the certificates of chains ending at a --trust anchor (default)",
    )
    net.add_argument("--offline", dest="online", action="store_false", help="download nothing")
    verify.add_argument(
        "--allow-private-network", action="store_true",
        help="also fetch from loopback/private addresses (the dev PKI); never on a public service",
    )
    verify.add_argument(
        "--fetch-budget", type=_positive_seconds, default=10.0, metavar="SECONDS",
        help="wall time for all downloads of this verification (default 10)",
    )
    verify.add_argument(
        "--require-revocation", action="store_true", help="fail unless revocation data exists for every certificate"
    )
    verify.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    verify.set_defaults(func=_cmd_verify)

    extend = subparsers.add_parser(
        "extend", help="extend a signed PDF to B-LTA (DSS + document timestamp)", description=_cmd_extend.__doc__
    )
    extend.add_argument("input", metavar="IN.pdf")
    extend.add_argument("--out", required=True, metavar="OUT.pdf")
    extend.add_argument("--tsa", required=True, metavar="URL", help="RFC 3161 timestamp service for the document timestamp")
    extend.add_argument("--trust", required=True, metavar="CERT", action="append", help="trust anchor (PEM/DER), repeatable")
    extend.add_argument("--crl", metavar="FILE", action="append", help="CRL file (PEM/DER) to embed, repeatable")
    extend.add_argument(
        "--offline", dest="online", action="store_false", help="download no CRL/OCSP (only --crl files are embedded)"
    )
    extend.add_argument(
        "--allow-private-network", action="store_true", help="also fetch CRL/OCSP from loopback/private addresses (dev PKI)"
    )
    extend.add_argument("-v", "--verbose", action="store_true", help="show library logs")
    extend.set_defaults(func=_cmd_extend)

    pki = subparsers.add_parser("pki", help="development PKI (NCA-shaped): init, serve")
    pki_sub = pki.add_subparsers(dest="pki_command", metavar="ACTION", required=True)
    init = pki_sub.add_parser("init", help="create root CA, issuing CA, signers, CRL in DIR")
    init.add_argument("dir", metavar="DIR")
    init.add_argument("--port", type=int, help="loopback port baked into CRL/OCSP URLs (default: a free one)")
    init.set_defaults(func=_cmd_pki_init)
    serve = pki_sub.add_parser("serve", help="serve CRL, OCSP and TSA of DIR on 127.0.0.1")
    serve.add_argument("dir", metavar="DIR")
    serve.set_defaults(func=_cmd_pki_serve)
