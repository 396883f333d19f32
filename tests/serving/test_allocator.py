"""The server caps glibc's malloc arenas (its RSS grew with one arena per busy thread, issue 19 d)."""

from __future__ import annotations

import platform
import sys

import pytest

from transmodal.serving import app
from transmodal.serving.allocator import limit_malloc_arenas
from transmodal.serving.settings import ServeSettings


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_cap_is_set_through_glibc():
    assert limit_malloc_arenas(8) is True  # 8: glibc's own per-core factor, harmless to this test process


def test_run_server_caps_the_arenas_after_loading_and_before_serving(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(app, "load_served", lambda folder, root: calls.append("load") or object())
    monkeypatch.setattr(app, "limit_malloc_arenas", lambda: calls.append("arenas") or True)
    monkeypatch.setattr(app, "create_app", lambda settings, served: "app")
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append("serve"))
    app.run_server(ServeSettings(str(tmp_path)))
    assert calls == ["load", "arenas", "serve"]
