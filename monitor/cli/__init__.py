"""The command line: the only code that prints and picks exit codes."""

from monitor.cli.main import main

__all__ = ["main"]
