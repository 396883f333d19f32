"""Serving a saved predictor over HTTP (``transmodal serve``): FastAPI routes, request rows checked
cell by cell (paths only inside ``allowed_root``), and a micro-batcher in front of the predictor.

Modules, in the order a request meets them: :mod:`.settings` (the server's options),
:mod:`.body` (reading a bounded JSON or multipart body), :mod:`.rows` (rows into a validated
DataFrame; image/audio cells as base64, uploads or paths inside the allowed root), :mod:`.batcher`
(concurrent requests into one ``predict``/``predict_proba`` call), :mod:`.model` (the loaded predictor,
its metadata and JSON outputs), :mod:`.schema` (OpenAPI schemas from the model's columns) and
:mod:`.app` (the FastAPI application). FastAPI and uvicorn are imported only here (extra ``serve``).
"""
