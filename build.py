#!/usr/bin/env python3
"""Build the example site in this folder: `python build.py` is `sitegen build --source .`.

Any sitegen command works too: `python build.py serve`, `python build.py check`.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sitegen.cli import run  # noqa: E402  (needs the path above when sitegen is not installed)

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        args = ["build", *args]
    if args[0] not in ("init", "new") and not {"--source", "-s"} & set(args):
        args += ["--source", str(HERE)]
    run(args)
