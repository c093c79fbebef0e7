"""Shared command-line plumbing: one-line errors, never a traceback, for bad input."""
from __future__ import annotations

import argparse
import sys


def first_line(e: BaseException) -> str:
    """An error's message in one line (its first), or its type's name when it has none."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump) and exits with 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def run(main, argv=None) -> int:
    """Call main(argv); ValueError/RuntimeError (bad input, missing checkpoint) -> one line, exit 2."""
    try:
        return main(argv) or 0
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
