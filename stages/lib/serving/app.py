"""The web app of stages.serve: a page to draw or upload a picture and see the class
probabilities (GET /, its script and style in page/), the model's answers as JSON
(POST /predict) and GET /health. Bad input gets a 4xx and one line of JSON, {"error": ...};
any other failure a 500 whose details stay in the server's log. One log line per request:
method, path, status and milliseconds.

What requests can take is bounded: at most MAX_REQUESTS requests to /predict at once (more
get a 503 with Retry-After), each of them reading at most uploads.MAX_BYTES, and at most
DECODERS pictures decoded at once, each of at most uploads.MAX_PIXELS pixels, while the
other requests wait their turn."""

import asyncio
import logging
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from stages.lib.serving.classifier import Classifier
from stages.lib.serving.uploads import UploadError, check_pixels, prepare_upload, uploaded_files

PAGE = Path(__file__).parent / "page"
MAX_REQUESTS = 32  # POST /predict requests in flight, each holding at most uploads.MAX_BYTES
DECODERS = 2  # pictures decoded at once: the memory a large picture takes, times this
RETRY_SECONDS = 1

log = logging.getLogger("serve")


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status, headers=headers)


def create_app(classifier: Classifier) -> FastAPI:
    """The app serving `classifier`'s model."""
    app = FastAPI(title="mnist-dvc", docs_url=None, redoc_url=None, openapi_url=None)
    health = {
        "status": "ok",
        "model": classifier.name,
        "test_accuracy": classifier.test_accuracy,
        "dataset": classifier.dataset,
        "classes": classifier.classes,
        "image_size": list(classifier.preparation.size),
        "color": classifier.preparation.color,
    }
    app.mount("/static", StaticFiles(directory=PAGE), name="static")
    decoders = asyncio.Semaphore(DECODERS)
    in_flight = 0

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            response = error(500, "internal error: the server's log says what went wrong")
        milliseconds = 1000 * (time.perf_counter() - start)
        log.info("%s %s %d %.1f ms", request.method, request.url.path, response.status_code, milliseconds)
        return response

    @app.exception_handler(UploadError)
    async def bad_upload(request: Request, problem: UploadError):
        # A body not read to its end cannot be followed by another request on its connection.
        return error(problem.status, problem, {"Connection": "close"} if problem.status == 408 else None)

    @app.exception_handler(HTTPException)
    async def http_problem(request: Request, problem: HTTPException):
        return error(problem.status_code, problem.detail)

    @app.get("/")
    async def page():
        return FileResponse(PAGE / "index.html")

    @app.get("/health")
    async def healthy():
        return health

    @app.post("/predict")
    async def predict(request: Request):
        nonlocal in_flight
        if in_flight >= MAX_REQUESTS:
            return error(
                503,
                f"the server is answering {MAX_REQUESTS} requests: send yours again in a moment",
                {"Retry-After": str(RETRY_SECONDS)},
            )
        in_flight += 1
        try:
            files = await uploaded_files(request)
            check_pixels(files)
            images = []
            for name, data in files:
                async with decoders:
                    images.append(await run_in_threadpool(prepare_upload, name, data, classifier.preparation))
        finally:
            in_flight -= 1
        answers = await run_in_threadpool(classifier.answers, np.stack(images))
        return {
            "model": classifier.name,
            "predictions": [
                {"file": name, **answer} for (name, _), answer in zip(files, answers, strict=True)
            ],
        }

    return app
