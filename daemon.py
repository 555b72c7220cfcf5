"""Run crisismon: ``python daemon.py ARGS`` is the same as ``crisismon ARGS``."""

import sys

from monitor.cli import main

if __name__ == "__main__":
    sys.exit(main())
