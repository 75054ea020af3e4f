"""The web app of stages.serve: a page to draw or upload a picture and see the class
probabilities (GET /, its script and style in page/), the model's answers as JSON
(POST /predict) and GET /health. Bad input gets a 4xx and one line of JSON, {"error": ...};
any other failure a 500 whose details stay in the server's log. One log line per request:
method, path, status and milliseconds."""

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
from stages.lib.serving.uploads import UploadError, prepare_upload, uploaded_files

PAGE = Path(__file__).parent / "page"

log = logging.getLogger("serve")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def create_app(classifier: Classifier, dataset: str) -> FastAPI:
    """The app serving `classifier`'s model, trained on the dataset named `dataset`."""
    app = FastAPI(title="mnist-dvc", docs_url=None, redoc_url=None, openapi_url=None)
    health = {
        "status": "ok",
        "model": classifier.name,
        "test_accuracy": classifier.test_accuracy(),
        "dataset": dataset,
        "classes": classifier.classes,
        "image_size": list(classifier.preparation.size),
        "color": classifier.preparation.color,
    }
    app.mount("/static", StaticFiles(directory=PAGE), name="static")

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
        return error(problem.status, problem)

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
        files = await uploaded_files(request)
        images = await run_in_threadpool(
            lambda: np.stack([prepare_upload(name, data, classifier.preparation) for name, data in files])
        )
        answers = await run_in_threadpool(classifier.answers, images)
        return {
            "model": classifier.name,
            "predictions": [
                {"file": name, **answer} for (name, _), answer in zip(files, answers, strict=True)
            ],
        }

    return app
