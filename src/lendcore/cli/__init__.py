"""Command line: ``lendcore <command>``. Each command module registers on :data:`app`."""

from lendcore.cli.common import app
from lendcore.cli.main import main

__all__ = ["app", "main"]
