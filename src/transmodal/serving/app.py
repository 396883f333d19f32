"""The FastAPI application of ``transmodal serve``: ``GET /health``, ``GET /metadata``,
``POST /predict`` and ``POST /predict_proba`` (when the model has classes).

A request is read within the size limit, parsed (JSON or multipart), turned into a validated DataFrame
(:mod:`transmodal.serving.rows`), and queued on the micro-batcher, which calls the predictor. Bad input
of any kind is answered with a 4xx and ``{"error", "details": [{"row", "column", "message"}]}``;
an unexpected failure is a 500 with a JSON body, and the server keeps serving either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from transmodal.errors import TransmodalError
from transmodal.serving import schema
from transmodal.serving.batcher import MicroBatcher
from transmodal.serving.body import parse_body, read_body
from transmodal.serving.errors import Problem, RequestError
from transmodal.serving.memory import HeapTrimmer, heap_environment, heap_stats
from transmodal.serving.model import PREDICT, PREDICT_PROBA, ServedModel, load_served
from transmodal.serving.rows import rows_to_frame
from transmodal.serving.settings import SETTINGS_ENV, ServeSettings

LOG = logging.getLogger("transmodal.serving")


def create_app(settings: ServeSettings, served: ServedModel | None = None):
    """The FastAPI application serving ``settings.model_dir`` (or the already loaded ``served``).

    The micro-batcher starts with the application (its lifespan): use ``with TestClient(app)``.
    """
    served = served or load_served(settings.model_dir, settings.allowed_root)
    trimmer = HeapTrimmer(settings.trim_every_s)  # the heap's free pages back to the system now and then
    batcher = MicroBatcher(served.run, settings.max_batch, settings.max_wait_ms, trimmer.after_batch)
    root, column_types = settings.root, served.column_types

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        batcher.start()
        yield
        await batcher.stop()

    labels = ", ".join(map(str, served.metadata["labels"]))
    app = FastAPI(title="transmodal", version=str(served.metadata["model"]["transmodal_version"]),
                  description=f"Predictions of the model in {os.path.basename(settings.model_dir)} (labels {labels})",
                  lifespan=lifespan)

    async def answer(request, kind: str) -> Any:
        try:
            with batcher.arriving():  # a batch being formed waits for this request (up to max_wait_ms)
                body = await read_body(request, settings.max_body_bytes)
                rows, uploads = await parse_body(request.headers.get("content-type", ""), body,
                                                 settings.max_body_bytes)
                frame = await run_in_threadpool(rows_to_frame, rows, uploads, column_types, root, settings.max_rows)
            outputs = await batcher.submit(kind, frame)
        except RequestError as err:
            return JSONResponse(err.to_dict(), status_code=err.status)
        except TransmodalError as err:  # the predictor refused the rows (say, a file removed since checked)
            problems = [Problem(b.reason, b.row if b.row >= 0 else None, b.column)
                        for b in getattr(err, "bad_rows", [])]
            return JSONResponse(RequestError(422, str(err).splitlines()[0], problems).to_dict(), status_code=422)
        except Exception as err:  # noqa: BLE001 - a bug, not bad input: logged, answered, and serving goes on
            LOG.exception("%s failed", kind)
            return JSONResponse({"error": f"internal error ({type(err).__name__}); the server keeps serving",
                                 "details": []}, status_code=500)
        return JSONResponse({"predictions" if kind == PREDICT else "probabilities": outputs})

    @app.get("/health", summary="Liveness: the model is loaded and the batcher runs (with the forward calls "
                                "made, rows, and calls per batch size)")
    async def health() -> dict[str, Any]:
        sizes = {str(size): calls for size, calls in sorted(batcher.batch_sizes.items())}
        return {"status": "ok", "batches": batcher.batches, "rows": batcher.rows, "batch_sizes": sizes,
                "heap_trims": trimmer.trims, "heap": heap_stats()}

    @app.get("/metadata", summary="Columns with their types, labels, tasks and classes, model version and hash")
    async def metadata() -> dict[str, Any]:
        limits = {"max_batch": settings.max_batch, "max_wait_ms": settings.max_wait_ms,
                  "max_body_bytes": settings.max_body_bytes, "max_rows": settings.max_rows,
                  "server_paths": settings.allowed_root is not None}
        return {**served.metadata, "limits": limits}

    @app.post("/predict", summary="Predicted labels, one per row", responses=schema.responses(served, PREDICT),
              openapi_extra={"requestBody": schema.request_body(served, settings.max_rows)})
    async def predict(request: Request):
        return await answer(request, PREDICT)

    if served.has_classes:
        @app.post("/predict_proba", summary="Class probabilities, one object per row",
                  responses=schema.responses(served, PREDICT_PROBA),
                  openapi_extra={"requestBody": schema.request_body(served, settings.max_rows)})
        async def predict_proba(request: Request):
            return await answer(request, PREDICT_PROBA)

    return app


def app_from_environment():
    """The application of one uvicorn worker process (``--workers`` > 1): settings from the environment."""
    settings = ServeSettings.from_json(os.environ[SETTINGS_ENV])
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // settings.workers))  # workers share the cores
    return create_app(settings)


def run_server(settings: ServeSettings, log_level: str = "info") -> None:
    """Serve until interrupted. The model is loaded first, so a bad folder fails before listening."""
    import uvicorn

    served = load_served(settings.model_dir, settings.allowed_root)
    if settings.workers == 1:
        uvicorn.run(create_app(settings, served), host=settings.host, port=settings.port, log_level=log_level)
        return
    del served  # each worker loads its own copy
    os.environ[SETTINGS_ENV] = settings.to_json()
    os.environ.update(heap_environment(settings.malloc_arenas, settings.mmap_threshold_mb))  # read by glibc at their start
    uvicorn.run("transmodal.serving.app:app_from_environment", factory=True, host=settings.host,
                port=settings.port, workers=settings.workers, log_level=log_level)
