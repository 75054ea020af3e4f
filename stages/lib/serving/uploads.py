"""The pictures of a POST /predict request (stages.serve): its body read up to MAX_BYTES
(a larger one is refused before anything is decoded), its multipart form parsed (at most
MAX_FILES files), and each picture prepared as stages.predict prepares a file, by the same
functions. Every problem is an UploadError: an HTTP status and one line for the client."""

import io

import numpy as np
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from stages.lib.core.errors import DataError
from stages.lib.data.pictures import Preparation, open_picture, prepare

MAX_BYTES = 5 * 2**20  # the whole request body
MAX_FILES = 32
MAX_PIXELS = 25_000_000  # a picture's width x height (a 5,000 x 5,000 photo), read before decoding


class UploadError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_body(request: Request) -> bytes:
    too_large = UploadError(
        413, f"the upload is over {MAX_BYTES // 2**20} MB: send smaller pictures, or fewer"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise too_large
    return bytes(body)


async def uploaded_files(request: Request) -> list[tuple[str, bytes]]:
    """The (file name, contents) of each file of the request's multipart form."""
    body = await read_body(request)
    example = f"e.g. curl -F file=@digit.png {request.base_url}predict"
    if not body:
        raise UploadError(400, f"the request has no body: send PNG or JPEG pictures as form files, {example}")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UploadError(
            415, f"expected multipart/form-data, got {content_type or 'no content type'}: {example}"
        )

    async def stream():
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=MAX_FILES).parse()
    except MultiPartException as error:
        if str(error).startswith("Too many files"):
            raise UploadError(413, f"too many files: send at most {MAX_FILES} per request") from None
        raise UploadError(400, f"the form cannot be read ({error}): {example}") from None
    files = [
        (item.filename or key, await item.read())
        for key, item in form.multi_items()
        if isinstance(item, UploadFile)
    ]
    await form.close()
    if not files:
        raise UploadError(400, f"the form has no file: send PNG or JPEG pictures as form files, {example}")
    return files


def prepare_upload(name: str, data: bytes, preparation: Preparation) -> np.ndarray:
    """One uploaded picture as the model's input image, prepared as stages.predict prepares
    a PNG or JPEG file (stages.lib.data.pictures)."""
    if not data:
        raise UploadError(400, f"{name} is empty: send a PNG or JPEG picture")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            pixels = picture.width * picture.height
    except Image.DecompressionBombError:
        pixels = MAX_PIXELS + 1
    except Exception:  # not a picture, or a damaged one: open_picture says which
        pixels = 0
    if pixels > MAX_PIXELS:
        raise UploadError(413, f"{name} has over {MAX_PIXELS:,} pixels: send a smaller picture")
    try:
        return prepare(open_picture(io.BytesIO(data), name), preparation)
    except DataError as error:
        raise UploadError(400, str(error) if name in str(error) else f"{name}: {error}") from None
