"""The typer application, command discovery and error handling shared by every command."""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import sys

import typer

app = typer.Typer(
    name="transmodal",
    help="Learning across modalities and tasks from a table: fit, predict, evaluate, transfer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _load_commands() -> None:
    package = importlib.import_module("transmodal.cli")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("app",) and not info.name.startswith("_"):
            importlib.import_module(f"transmodal.cli.{info.name}")


def fail(message: str, code: int = 1) -> None:
    """Print ``message`` as one clear error on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(code)


@contextlib.contextmanager
def status_lines():
    """Show the ``transmodal.*`` log lines (INFO and above) on stderr while a command runs: with rich
    on a terminal, as plain timestamped lines when stderr is redirected to a file."""
    import logging

    logger = logging.getLogger("transmodal")
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=False, show_level=False,
                                               log_time_format="[%X]")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    handler.setLevel(logging.INFO)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.contextmanager
def handled_errors():
    """Within the block, an error prints as one message and exits 1 (2 for a usage error), never as a
    raw traceback; set ``TRANSMODAL_DEBUG=1`` for the full traceback."""
    from transmodal.errors import TransmodalError

    try:
        yield
    except SystemExit:
        raise
    except TransmodalError as err:
        if os.environ.get("TRANSMODAL_DEBUG"):
            raise
        fail(str(err))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:  # noqa: BLE001 - the CLI never shows a raw traceback
        if type(err).__name__ == "NoArgsIsHelpError":
            sys.exit(0)  # the help was printed
        if hasattr(err, "format_message") and hasattr(err, "exit_code"):  # a (typer-vendored) click error
            ctx = getattr(err, "ctx", None)
            hint = f"\nTry '{ctx.command_path} --help' for help." if ctx is not None else ""
            typer.echo(f"error: {err.format_message()}{hint}", err=True)
            sys.exit(err.exit_code or 2)
        if os.environ.get("TRANSMODAL_DEBUG"):
            raise
        fail(f"{type(err).__name__}: {err} (set TRANSMODAL_DEBUG=1 for the traceback)")


@contextlib.contextmanager
def command_context():
    """What every command runs within: errors as one message (:func:`handled_errors`), messages that
    name flags (``--set key=value``), not Python arguments, the status lines on stderr, and no library
    deprecation chatter (unless ``TRANSMODAL_DEBUG`` is set)."""
    import warnings

    from transmodal.errors import cli_caller

    with handled_errors(), warnings.catch_warnings(), cli_caller(), status_lines():
        if not os.environ.get("TRANSMODAL_DEBUG"):
            warnings.simplefilter("ignore")  # library deprecation chatter is not for CLI users
        yield


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``transmodal`` console script.

    Errors print as one message and exit 1 (2 for usage errors); set ``TRANSMODAL_DEBUG=1`` for the
    full traceback.
    """
    _load_commands()
    with command_context():
        app(args=argv, standalone_mode=False)
