"""The ``transmodal`` command line: a thin typer layer over the Python API.

Each file in this package adds its commands to :data:`transmodal.cli.app.app`; ``main`` imports
them all, so a new command is one new file.
"""

from transmodal.cli.app import main

__all__ = ["main"]
