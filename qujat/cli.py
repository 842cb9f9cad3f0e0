"""The `qujat` console command: one subcommand per job.

Each layer registers its own subcommands; this module only wires them together.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qujat", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from docgen import cli as docgen_cli

    docgen_cli.register(sub)
    try:
        from signing import cli as signing_cli
    except ImportError:  # signing layer not built yet
        signing_cli = None
    if signing_cli is not None:
        signing_cli.register(sub)
        from qujat import demo

        demo.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
