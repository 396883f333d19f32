"""``transmodal serve``: a saved model over HTTP (FastAPI + uvicorn, micro-batched).

The command checks its options, chooses the server's malloc (:mod:`transmodal.serving.allocator`)
and, when that is jemalloc and not yet loaded, starts again as ``python -m transmodal.cli.serve`` with
jemalloc preloaded and the checked settings in the environment (:func:`serve_preloaded`); otherwise
it configures glibc's heap. Either way the server's libraries are imported only then.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from transmodal.cli.app import app

if TYPE_CHECKING:
    from transmodal.serving.settings import ServeSettings


@app.command()
def serve(
    model: Path = typer.Argument(..., help="Model folder."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Worker processes, each with its own copy of the model."),
    max_batch: int = typer.Option(64, "--max-batch", help="Rows per forward pass at most (concurrent requests "
                                  "are batched up to it)."),
    max_wait_ms: float = typer.Option(5.0, "--max-wait-ms", help="How long a batch waits for more requests."),
    allowed_root: Optional[Path] = typer.Option(None, "--allowed-root", help="The only folder whose image/audio "
                                                "files a request may name by path (none: no path is read)."),
    max_body_mb: float = typer.Option(32.0, "--max-body-mb", help="Larger request bodies are refused (413)."),
    max_rows: int = typer.Option(1024, "--max-rows", help="More rows in one request are refused (413)."),
    trim_every_s: float = typer.Option(0.0, "--trim-every-s", help="Give the heap's free memory back to the "
                                       "system at most this often, between forward passes (0: never)."),
    malloc_arenas: Optional[int] = typer.Option(None, "--malloc-arenas", help="glibc malloc arenas of the server "
                                                "process (default: two per CPU core; 0: glibc's, up to eight per core)."),
    mmap_threshold_mb: float = typer.Option(0.0, "--mmap-threshold-mb", help="Buffers this large are mapped and "
                                            "returned to the system when freed (0: glibc's rising threshold)."),
    allocator: str = typer.Option("auto", "--allocator", help="The server's malloc: auto (jemalloc when the "
                                  "system has libjemalloc2, else glibc), jemalloc or glibc."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level (warning: no access log)."),
) -> None:
    """Serve the model in MODEL: GET /health, GET /metadata, POST /predict, POST /predict_proba (JSON rows;
    image/audio as base64 or multipart uploads; OpenAPI schema at /docs and /openapi.json)."""
    from transmodal.serving.allocator import choose_allocator, exec_with_preload
    from transmodal.serving.settings import SETTINGS_ENV, ServeSettings

    heap = {"mmap_threshold_mb": mmap_threshold_mb, **({} if malloc_arenas is None else {"malloc_arenas": malloc_arenas})}
    settings = ServeSettings(str(model), host, port, workers, max_batch, max_wait_ms,
                             None if allowed_root is None else str(allowed_root), int(max_body_mb * 2**20), max_rows,
                             trim_every_s, allocator=allocator, **heap)
    chosen = choose_allocator(settings.allocator)
    if chosen.needs_preload:  # this process is replaced: the server starts again with jemalloc loaded
        from transmodal.persistence import verify_folder

        verify_folder(settings.model_dir)  # a bad folder fails here, in the caller's process, not after the restart
        exec_with_preload(chosen, [sys.executable, "-m", "transmodal.cli.serve", "--log-level", log_level],
                          {SETTINGS_ENV: settings.to_json()})
    _serve(settings, log_level, configure_glibc=chosen.name == "glibc")


def _serve(settings: "ServeSettings", log_level: str, configure_glibc: bool) -> None:
    """Configure glibc's heap when it serves, then import the server and serve until interrupted."""
    from transmodal.errors import ConfigError
    from transmodal.serving.memory import configure_heap

    if configure_glibc:
        # before the server's libraries are imported: numpy's OpenBLAS and pyarrow's jemalloc start
        # threads at import, and an arena one of them made would stay
        configure_heap(settings.malloc_arenas, settings.mmap_threshold_mb)
    try:
        from transmodal.serving.app import run_server
    except ImportError as err:
        raise ConfigError(f"transmodal serve needs FastAPI and uvicorn ({err}); pip install 'transmodal[serve]'") from None
    run_server(settings, log_level=log_level)


def serve_preloaded(argv: list[str] | None = None) -> None:
    """``python -m transmodal.cli.serve --log-level LEVEL``: the server started again by ``transmodal
    serve`` with jemalloc preloaded; its settings (checked) come from ``TRANSMODAL_SERVE_SETTINGS``. If
    the preload failed (the loader says why on stderr), it serves on glibc's malloc, configured."""
    import argparse
    import logging
    import os

    from transmodal.serving.allocator import jemalloc_loaded
    from transmodal.serving.settings import SETTINGS_ENV, ServeSettings

    parser = argparse.ArgumentParser(prog="python -m transmodal.cli.serve")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    settings = ServeSettings.from_json(os.environ[SETTINGS_ENV])
    loaded = jemalloc_loaded()
    if not loaded:
        logging.getLogger("transmodal.serving").warning("jemalloc was not loaded; serving with glibc's malloc")
    _serve(settings, args.log_level, configure_glibc=not loaded)


if __name__ == "__main__":
    from transmodal.cli.app import command_context

    with command_context():
        serve_preloaded()
