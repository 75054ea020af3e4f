"""The web app of stages.serve: a page to draw or upload a picture and see the class
probabilities (GET /, its script and style in page/), the model's answers as JSON
(POST /predict) and GET /health. Bad input gets a 4xx and one line of JSON, {"error": ...};
any other failure a 500 whose details stay in the server's log. One log line per request:
method, path, status and milliseconds.

What requests can take is bounded: at most MAX_REQUESTS requests to /predict read and
decoded at once (more wait up to WAIT_SECONDS for their turn, their bodies unread, then
get a 503 with Retry-After), each of them reading at most uploads.MAX_BYTES, and at most
DECODERS pictures decoded at once, each of at most uploads.MAX_PIXELS pixels, while the
other requests wait their turn. The prepared pictures then wait for the model in the
batcher's queue (stages.lib.serving.batching), which holds at most Batching.max_queued of
them (a request that finds it full gets a 503 too)."""

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from stages.lib.serving.batching import Batcher, Batching, QueueFull
from stages.lib.serving.classifier import Classifier
from stages.lib.serving.uploads import UploadError, check_pixels, prepare_upload, uploaded_files

PAGE = Path(__file__).parent / "page"
MAX_REQUESTS = 32  # POST /predict requests in flight, each holding at most uploads.MAX_BYTES
WAIT_SECONDS = 1  # how long a request over MAX_REQUESTS waits for its turn before its 503
DECODERS = 2  # pictures decoded at once: the memory a large picture takes, times this
RETRY_SECONDS = 1

log = logging.getLogger("serve")


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status, headers=headers)


class LoggedRequests:
    """ASGI middleware (FastAPI's @app.middleware costs a task and a stream per request):
    one log line per request, and a 500 for a failure nothing else caught."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), None

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            if status is not None:  # the answer has begun: only the connection can end it
                raise
            await error(500, "internal error: the server's log says what went wrong")(scope, receive, sending)
        milliseconds = 1000 * (time.perf_counter() - start)
        log.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, milliseconds)


def busy(why: str) -> JSONResponse:
    return error(503, f"{why}: send yours again in a moment", {"Retry-After": str(RETRY_SECONDS)})


def create_app(classifier: Classifier, batching: Batching | None = None) -> FastAPI:
    """The app serving `classifier`'s model, the pictures of concurrent requests batched
    together as `batching` says (None: Batching's defaults)."""
    batcher = Batcher(classifier.probabilities, batching or Batching())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with batcher.running():
            yield

    app = FastAPI(title="mnist-dvc", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    health = {
        "status": "ok",
        "model": classifier.name,
        "runtime": classifier.runtime,
        "test_accuracy": classifier.test_accuracy,
        "dataset": classifier.dataset,
        "classes": classifier.classes,
        "image_size": list(classifier.preparation.size),
        "color": classifier.preparation.color,
    }
    app.mount("/static", StaticFiles(directory=PAGE), name="static")
    decoders = asyncio.Semaphore(DECODERS)
    admitted = asyncio.Semaphore(MAX_REQUESTS)

    app.add_middleware(LoggedRequests)

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
        try:
            async with asyncio.timeout(WAIT_SECONDS if admitted.locked() else None):
                await admitted.acquire()
        except TimeoutError:
            return busy(f"the server is answering {MAX_REQUESTS} requests")
        try:
            files = await uploaded_files(request)
            check_pixels(files)
            images = []
            for name, data in files:
                async with decoders:
                    images.append(await run_in_threadpool(prepare_upload, name, data, classifier.preparation))
        finally:
            admitted.release()
        try:
            probabilities = await batcher(np.stack(images))
        except QueueFull as full:
            return busy(str(full))
        answers = classifier.named(probabilities)
        # JSONResponse: the answers are plain JSON already (FastAPI's encoder would walk them).
        return JSONResponse(
            {
                "model": classifier.name,
                "predictions": [
                    {"file": name, **answer} for (name, _), answer in zip(files, answers, strict=True)
                ],
            }
        )

    return app
