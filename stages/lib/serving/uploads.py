"""The pictures of a POST /predict request (stages.serve): its body read up to MAX_BYTES
within BODY_SECONDS, its multipart form parsed (at most MAX_FILES files), the pixels each
picture's header declares checked against MAX_PIXELS and, all together, MAX_REQUEST_PIXELS
(a request over any limit is refused before anything is decoded), and each picture
prepared as stages.predict prepares a file, by the same functions. Every problem is an
UploadError: an HTTP status and one line for the client."""

import asyncio
import io

import numpy as np
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from stages.lib.core.errors import DataError
from stages.lib.data.pictures import Preparation, prepare
from stages.lib.data.reading import open_picture

MAX_BYTES = 5 * 2**20  # the whole request body
MAX_FILES = 32
MAX_PIXELS = 25_000_000  # a picture's width x height (a 5,000 x 5,000 photo), read before decoding
MAX_REQUEST_PIXELS = 100_000_000  # a request's pictures' together (eight 12-megapixel photos)
BODY_SECONDS = 30  # to send the body: a slower client gets a 408


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
    try:
        async with asyncio.timeout(BODY_SECONDS):
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise too_large
    except TimeoutError:
        raise UploadError(
            408, f"the upload took over {BODY_SECONDS} s to arrive: send it again, or send smaller pictures"
        ) from None
    except ClientDisconnect:
        raise UploadError(400, "the client went away before the upload's end") from None
    return bytes(body)


async def uploaded_files(request: Request) -> list[tuple[str, bytes]]:
    """The (file name, contents) of each file of the request's multipart form."""
    body = await read_body(request)
    example = f"e.g. curl -F file=@digit.png {request.base_url}predict"
    if not body:
        raise UploadError(400, f"the request has no body: send PNG or JPEG pictures as form files, {example}")
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
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


def check_pixels(files: list[tuple[str, bytes]]) -> None:
    """A 413 where a picture's header declares over MAX_PIXELS pixels, or all the
    pictures together over MAX_REQUEST_PIXELS; nothing is decoded."""
    total = 0
    for name, data in files:
        pixels = header_pixels(data)
        if pixels > MAX_PIXELS:
            raise UploadError(413, f"{name} has over {MAX_PIXELS:,} pixels: send a smaller picture")
        total += pixels
    if total > MAX_REQUEST_PIXELS:
        raise UploadError(
            413,
            f"the pictures have {total:,} pixels in all, over the {MAX_REQUEST_PIXELS:,} a request may "
            "have: send fewer pictures per request, or smaller ones",
        )


def header_pixels(data: bytes) -> int:
    """The width x height a picture's header declares; 0 for what is not a picture
    (open_picture says why), more than MAX_PIXELS for one too large to open at all."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return picture.width * picture.height
    except Image.DecompressionBombError:
        return MAX_PIXELS + 1
    except Exception:  # not a picture, or a damaged one: open_picture says which
        return 0


def prepare_upload(name: str, data: bytes, preparation: Preparation) -> np.ndarray:
    """One uploaded picture as the model's input image, prepared as stages.predict prepares
    a PNG or JPEG file (stages.lib.data.pictures)."""
    if not data:
        raise UploadError(400, f"{name} is empty: send a PNG or JPEG picture")
    try:
        return prepare(open_picture(io.BytesIO(data), name), preparation)
    except DataError as error:
        raise UploadError(400, str(error) if name in str(error) else f"{name}: {error}") from None
