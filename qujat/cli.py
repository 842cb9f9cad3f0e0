"""The `qujat` console command: one subcommand per job.

The document commands (qujat.documents_cli), the service's (qujat.service_cli: serve, issue,
keys) and the demo build their parts through the composition root (qujat.runtime); the signing
layer's commands (signing.cli) work on the files named in their arguments. This module only wires
them together.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

EXIT_SIGPIPE = 128 + signal.SIGPIPE        # what a shell reports for a writer killed by SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qujat", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from qujat import batch_cli, demo, documents_cli, gc_cli, service_cli
    from signing import cli as signing_cli

    documents_cli.register(sub)
    service_cli.register(sub)
    batch_cli.register(sub)
    gc_cli.register(sub)
    signing_cli.register(sub)
    demo.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. A known failure (bad setting, missing template, LibreOffice down,
    signing error) is one line on stderr and a non-zero exit, never a traceback."""
    from docgen.errors import DocgenError
    from qujat.settings import SettingsError
    from signing.errors import SigningPackageError

    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
            try:
                code = int(args.func(args) or 0)
            except SettingsError as e:
                print(f"qujat {args.command}: {e}", file=sys.stderr)
                code = 2
            except (DocgenError, SigningPackageError) as e:
                print(f"qujat {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
                code = 1
            except Exception as e:
                if not _database_unreachable(e):
                    raise
                # the driver's words (no URL: it may hold a password)
                reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
                print(f"qujat {args.command}: the database cannot be reached: {reason}", file=sys.stderr)
                code = 1
        except SystemExit:                  # --help, a usage error
            sys.stdout.flush()
            raise
        sys.stdout.flush()                  # here, so that a closed pipe is seen here
        return code
    except BrokenPipeError:
        return _stdout_gone()


def _database_unreachable(exc: BaseException) -> bool:
    """A connection to the records store failed (SQLAlchemy's OperationalError). sqlalchemy is
    not imported to ask: if no command loaded it, the error cannot be one of its own."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


def _stdout_gone() -> int:
    """Standard output was closed early (`qujat … | head`): stop quietly, as the signal module's
    "Note on SIGPIPE" recommends, with the status of a process SIGPIPE ended. Standard output
    goes to /dev/null, so that the interpreter's flush at exit raises nothing either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
