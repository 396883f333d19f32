"""``transmodal cache info`` and ``transmodal cache clear``: the persistent embedding store."""

from __future__ import annotations

import typer

from transmodal.cli.app import app

cache_app = typer.Typer(help="The embedding store: frozen encoders' features kept for later fits and predictions "
                             "(folder: TRANSMODAL_CACHE, off with TRANSMODAL_CACHE=off; bound: TRANSMODAL_CACHE_SIZE).",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _store():
    from transmodal.cli.app import fail
    from transmodal.embedding_store import open_store

    store = open_store()
    if store is None:
        fail("the embedding store is off (TRANSMODAL_CACHE=off); unset TRANSMODAL_CACHE to use it")
    return store


@cache_app.command("info")
def info() -> None:
    """Where the store is, its size bound, and per encoder: inputs, rows, shards and size."""
    store = _store()
    summary = store.info()
    typer.echo(f"embedding store: {summary.root}")
    typer.echo(f"size: {_megabytes(summary.total_bytes)} of at most {_megabytes(summary.max_bytes)}")
    for key, entry in summary.encoders.items():
        described = entry["description"]
        encoder = described.get("encoder", {})
        name = f"{encoder.get('name', '?')} {encoder.get('checkpoint', '')}".strip()
        typer.echo(f"  {key[:12]}  {name}  input {described.get('input', '?')!r}: {entry['rows']} rows in "
                   f"{entry['shards']} shard(s), {_megabytes(entry['bytes'])}")


@cache_app.command("clear")
def clear() -> None:
    """Delete every stored feature (only files the store wrote)."""
    store = _store()
    freed = store.clear()
    typer.echo(f"cleared {store.root}: {_megabytes(freed)} freed")


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"
