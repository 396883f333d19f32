"""Helpers of the serving tests (a unique module name: ``conftest`` is ambiguous across folders):
request rows from the shared tiny table, and :class:`OpenWatch`, which sees every open of a file."""

from __future__ import annotations

import base64
import ctypes
import os
import sys
from pathlib import Path

import pandas as pd


def b64(path: str | Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def json_rows(table: pd.DataFrame, rows: list[int], encoding: str = "base64") -> list[dict]:
    """Rows of ``table`` as request rows; image/audio as ``{"base64"}``, a data URI, or the path."""
    out = []
    for i in rows:
        row = table.iloc[i]
        cells = {"review": row["review"], "size": float(row["size"]), "color": row["color"]}
        for column, mime in (("image", "image/png"), ("audio", "audio/wav")):
            if encoding == "base64":
                cells[column] = {"base64": b64(row[column])}
            elif encoding == "data_uri":
                cells[column] = f"data:{mime};base64,{b64(row[column])}"
            else:
                cells[column] = row[column]
        out.append(cells)
    return out


IN_ACCESS, IN_OPEN, IN_NONBLOCK = 0x1, 0x20, 0x800
_AUDITED: list[list[str]] = []  # the open() paths seen by the audit hook, per active watch


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _AUDITED and args and isinstance(args[0], (str, bytes, os.PathLike)):
        for seen in _AUDITED:
            seen.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one records only while a watch is active


class OpenWatch:
    """Records every open or read of the watched paths while active, by two witnesses: Linux inotify
    (any open in any process, C libraries such as PIL's and libsndfile's included) and a Python audit
    hook on ``open`` events (whatever path string reached ``open``, even one that failed).

    Use as a context manager; ``opened()`` lists what was seen.
    """

    def __init__(self, *paths: Path) -> None:
        self.paths = [Path(p) for p in paths]
        self.audited: list[str] = []
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        for path in self.paths:
            if self.libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN | IN_ACCESS) < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path} failed")

    def __enter__(self) -> "OpenWatch":
        _AUDITED.append(self.audited)
        return self

    def __exit__(self, *exc) -> None:
        _AUDITED.remove(self.audited)

    def inotify_events(self) -> int:
        """Open/access events since the last call."""
        count = 0
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return count
            offset = 0
            while offset < len(data):  # struct inotify_event {int wd; uint32 mask, cookie, len; char name[]}
                length = int.from_bytes(data[offset + 12:offset + 16], sys.byteorder)
                count += 1
                offset += 16 + length

    def opened(self) -> list[str]:
        """What was seen: inotify events and audited open() calls naming a watched file."""
        events = self.inotify_events()
        names = {p.name for p in self.paths}
        seen = [f"inotify: {events} open/access event(s)"] if events else []
        return seen + [path for path in self.audited if Path(path).name in names]

    def close(self) -> None:
        os.close(self.fd)


class LiveServer:
    """A uvicorn server for ``app`` on a free loopback port, in a thread (``with LiveServer(app) as url``)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = None

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
