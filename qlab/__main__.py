"""Command line: ``python -m qlab compare [...]`` (also installed as ``qlab``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = {"compare": "every weight format on a real model, one table (see qlab.compare)"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        lines = ["usage: python -m qlab COMMAND [options]", "", "commands:"]
        lines += [f"  {name:10s} {about}" for name, about in COMMANDS.items()]
        print("\n".join(lines), file=sys.stdout if not args or args[0] in ("-h", "--help") else sys.stderr)
        return 0 if not args or args[0] in ("-h", "--help") else 2
    from .compare import main as compare_main

    return compare_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
