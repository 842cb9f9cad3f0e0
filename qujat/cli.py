"""The `qujat` console command: one subcommand per job.

The document commands (qujat.documents_cli) and the demo build their parts through the
composition root (qujat.runtime); the signing layer's commands (signing.cli) work on the files
named in their arguments. This module only wires them together.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qujat", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from qujat import demo, documents_cli
    from signing import cli as signing_cli

    documents_cli.register(sub)
    signing_cli.register(sub)
    demo.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
