"""stages.serve on a small CNN trained on real digits and exported: the API through
FastAPI's TestClient (answers from the ONNX file, as Keras gives them, and a 4xx with one
line of JSON for each kind of bad input), the server in a thread with its limits lowered
(a slow upload's 408, a 503 over the bound on requests in flight, and over the model's
queue), then the real server in its own process: the page in headless Chromium, with a
"1" drawn on it, and 200 requests from 8 concurrent clients."""

import contextlib
import io
import json
import select
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from benchmarks.serve_load import describe, load
from stages.lib.core.model_files import load_model
from stages.lib.data.pictures import read_images
from stages.lib.serving import app as app_module
from stages.lib.serving import uploads
from stages.lib.serving.app import PAGE, create_app
from stages.lib.serving.batching import Batching
from tests import REPO, browser, workspaces
from tests.test_predict import as_users_photo
from tests.workspaces import CLASSES, exported_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits(dataset_folder):
    return workspaces.digits(dataset_folder)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, digits):
    return exported_workspace(tmp_path_factory.mktemp("workspace"), digits)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_photographed_digits_get_their_class_and_the_probabilities_keras_gives(
    client, classifier, workspace, digits, tmp_path
):
    test_images, test_labels = digits[1]
    photos = [png(as_users_photo(digit, index)) for index, digit in enumerate(test_images[:10])]
    response = client.post("/predict", files=[("file", (f"digit{i}.png", p)) for i, p in enumerate(photos)])
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == "cnn_final"
    assert [a["file"] for a in answer["predictions"]] == [f"digit{i}.png" for i in range(10)]
    said = [a["class"] for a in answer["predictions"]]
    assert sum(np.array(said) == np.array(CLASSES)[test_labels[:10]]) >= 8, (said, test_labels[:10])
    keras = load_model(workspace / "models" / "cnn_final.keras")
    for index, (photo, predicted) in enumerate(zip(photos, answer["predictions"], strict=True)):
        (tmp_path / f"digit{index}.png").write_bytes(photo)
        expected = keras.predict(
            read_images(tmp_path / f"digit{index}.png", classifier.preparation), verbose=0
        )
        assert (
            list(predicted["probabilities"]) == CLASSES and predicted["class"] == CLASSES[expected.argmax()]
        )
        # within params.yaml's export.tolerance, as the export stage checks every format
        np.testing.assert_allclose(list(predicted["probabilities"].values()), expected[0], atol=1e-4)
        assert predicted["probability"] == max(predicted["probabilities"].values())


def test_health_names_the_model_and_its_test_accuracy(client, workspace):
    answer = client.get("/health").json()
    accuracy = json.loads((workspace / "metrics" / "evaluate.json").read_text())["cnn_final"]["accuracy"]
    assert answer["model"] == "cnn_final" and answer["test_accuracy"] == accuracy
    assert answer["runtime"] == "onnx (models/export/final.onnx)"
    assert answer["classes"] == CLASSES and answer["image_size"] == [28, 28] and answer["dataset"] == "MNIST"


def test_the_page_and_its_script_need_nothing_from_the_internet(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name in ("index.html", "app.js", "style.css"):
        text = (PAGE / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
        if name != "index.html":
            assert f"static/{name}" in page.text and client.get(f"/static/{name}").status_code == 200


def too_many_files(_):
    return {"files": [("file", (f"{i}.png", b"x")) for i in range(uploads.MAX_FILES + 1)]}


def truncated(photo):
    return {"files": {"file": ("cut.png", photo[: len(photo) // 2])}}


def a_gif(_):
    buffer = io.BytesIO()
    Image.new("L", (28, 28)).save(buffer, "GIF")
    return {"files": {"file": ("moving.gif", buffer.getvalue())}}


def too_many_pixels(_):
    return {"files": {"file": ("huge.png", png(np.zeros((6000, 6000), bool)))}}


def too_many_pixels_in_all(_):
    """Five pictures of 5,000 x 4,500, each under uploads.MAX_PIXELS."""
    large = png(np.zeros((4500, 5000), bool))
    return {"files": [("file", (f"large{i}.png", large)) for i in range(5)]}


BAD_INPUTS = [
    (
        "not an image",
        lambda _: {"files": {"file": ("notes.png", b"not a picture")}},
        400,
        "notes.png is not a readable PNG or JPEG image",
    ),
    ("truncated", truncated, 400, "cut.png cannot be decoded"),
    ("empty body", lambda _: {}, 400, "the request has no body"),
    ("empty file", lambda _: {"files": {"file": ("empty.png", b"")}}, 400, "empty.png is empty"),
    ("no file", lambda _: {"files": {"name": (None, b"value")}}, 400, "the form has no file"),
    ("too many files", too_many_files, 413, f"too many files: send at most {uploads.MAX_FILES}"),
    ("over 5 MB", lambda _: {"files": {"file": ("big.png", bytes(6 << 20))}}, 413, "the upload is over 5 MB"),
    (
        "not a form",
        lambda _: {"json": {"image": [0, 1]}},
        415,
        "expected multipart/form-data, got application/json",
    ),
    ("a GIF", a_gif, 400, "moving.gif is a GIF image; only PNG and JPEG are read"),
    ("too many pixels", too_many_pixels, 413, "huge.png has over 25,000,000 pixels"),
    (
        "too many pixels in all",
        too_many_pixels_in_all,
        413,
        "the pictures have 112,500,000 pixels in all, over the 100,000,000 a request may have",
    ),
    (
        "blank",
        lambda _: {"files": {"file": ("blank.png", png(np.zeros((28, 28), np.uint8)))}},
        400,
        "blank.png: nothing found: the image is blank",
    ),
]


@pytest.mark.parametrize(
    "request_for, status, message", [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_gets_a_4xx_with_one_line_and_the_server_keeps_serving(
    client, digits, request_for, status, message, monkeypatch, caplog
):
    photo = png(as_users_photo(digits[1][0][0], 0))
    if status == 413:  # refused before anything is decoded
        monkeypatch.setattr(uploads, "open_picture", lambda *_: pytest.fail("decoded"))
    response = client.post("/predict", **request_for(photo))
    assert response.status_code == status, response.text
    assert list(response.json()) == ["error"] and message in response.json()["error"]
    assert "\n" not in response.json()["error"] and "Traceback" not in response.text
    monkeypatch.undo()
    assert client.post("/predict", files={"file": ("digit.png", photo)}).status_code == 200


def test_the_content_type_is_read_in_any_case(client, digits):
    photo = png(as_users_photo(digits[1][0][0], 0))
    body = (
        b'--edge\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + photo + b"\r\n--edge--\r\n"
    )
    response = client.post(
        "/predict", content=body, headers={"content-type": "Multipart/Form-Data; boundary=edge"}
    )
    assert response.status_code == 200, response.text


def test_a_failure_inside_is_a_500_without_a_traceback_and_each_request_is_logged(
    classifier, workspace, digits, monkeypatch, caplog
):
    monkeypatch.setattr(classifier, "probabilities", lambda images: 1 / 0)
    photo = png(as_users_photo(digits[1][0][0], 0))
    with caplog.at_level("INFO", logger="serve"), TestClient(create_app(classifier)) as client:
        response = client.post("/predict", files={"file": ("digit.png", photo)})
        client.get("/nowhere")
    assert response.status_code == 500 and response.json() == {
        "error": "internal error: the server's log says what went wrong"
    }
    assert "ZeroDivisionError" not in response.text
    lines = [record.getMessage() for record in caplog.records if record.name == "serve"]
    assert "ZeroDivisionError" in caplog.text  # in the server's log
    assert any(line.startswith("POST /predict 500 ") and line.endswith(" ms") for line in lines), lines
    assert any(line.startswith("GET /nowhere 404 ") for line in lines), lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(workspace, tmp_path_factory):
    """`python -m stages.serve` in its own process on a free port of 127.0.0.1: its URL."""
    port, log = free_port(), tmp_path_factory.mktemp("server") / "serve.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "stages.serve", "--port", str(port)],
            cwd=workspace,
            env={"PYTHONPATH": str(REPO), "PATH": str(Path(sys.executable).parent)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url, start = f"http://127.0.0.1:{port}", time.monotonic()
    try:
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{url}/health").status_code == 200:
                    break
            assert time.monotonic() - start < 120, log.read_text()
            time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def local_server(classifier, workspace):
    """Starts the app on uvicorn in a thread of this process (so that tests can lower its
    limits), batching as `batching` says: a context manager giving its port."""

    @contextlib.contextmanager
    def serving(batching=None):
        port = free_port()
        config = uvicorn.Config(
            create_app(classifier, batching), host="127.0.0.1", port=port, log_config=None
        )
        server = uvicorn.Server(config)
        with contextlib.chdir(workspace):
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                assert thread.is_alive()
                time.sleep(0.05)
            yield port
            server.should_exit = True
            thread.join(timeout=30)

    return serving


def slow_upload(port: int) -> socket.socket:
    """A connection that declares a 100,000-byte upload and has sent one byte of it."""
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(
        b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n"
        b"Content-Type: multipart/form-data; boundary=edge\r\n\r\n-"
    )
    return connection


def test_a_client_sending_a_byte_at_a_time_gets_a_408_and_loses_its_connection(local_server, monkeypatch):
    monkeypatch.setattr(uploads, "BODY_SECONDS", 1)
    start = time.monotonic()
    with local_server() as port, slow_upload(port) as connection:
        while not select.select([connection], [], [], 0.2)[0]:  # a byte every 0.2 s, until answered
            connection.sendall(b"-")
            assert time.monotonic() - start < 10, "no answer"
        connection.settimeout(10)
        answer = b""
        # to the end: the server closes the connection (with a reset if a byte crossed its close)
        with contextlib.suppress(ConnectionResetError):
            while chunk := connection.recv(4096):
                answer += chunk
    status, body = answer.split(b"\r\n", 1)[0], answer.split(b"\r\n\r\n", 1)[1]
    assert status == b"HTTP/1.1 408 Request Timeout" and 1 <= time.monotonic() - start < 10
    assert json.loads(body)["error"].startswith("the upload took over 1 s to arrive")


def test_requests_over_the_bound_get_a_503_with_retry_after_until_others_end(
    local_server, digits, monkeypatch
):
    monkeypatch.setattr(app_module, "MAX_REQUESTS", 2)
    photo = png(as_users_photo(digits[1][0][0], 0))
    with local_server() as port:
        url, held = f"http://127.0.0.1:{port}/predict", [slow_upload(port) for _ in range(2)]
        deadline = time.monotonic() + 10
        while (response := httpx2.post(url, files={"file": ("digit.png", photo)})).status_code != 503:
            assert time.monotonic() < deadline, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json() == {
            "error": "the server is answering 2 requests: send yours again in a moment"
        }
        for connection in held:
            connection.close()
        while (response := httpx2.post(url, files={"file": ("digit.png", photo)})).status_code != 200:
            assert response.status_code == 503 and time.monotonic() < deadline, response.text


def test_requests_over_the_models_queue_get_a_503_with_retry_after(
    local_server, classifier, digits, monkeypatch
):
    model, gate = classifier.probabilities, threading.Event()
    monkeypatch.setattr(classifier, "probabilities", lambda images: gate.wait(10) and model(images))
    photo = png(as_users_photo(digits[1][0][0], 0))

    def send():
        return httpx2.post(url, files={"file": ("digit.png", photo)}, timeout=30)

    with local_server(Batching(max_queued=1)) as port, ThreadPoolExecutor(2) as pool:
        url = f"http://127.0.0.1:{port}/predict"
        held = pool.submit(send)  # the model holds it
        time.sleep(0.5)
        queued = pool.submit(send)  # the queue's one place
        time.sleep(0.5)
        response = send()
        gate.set()
        assert held.result().status_code == queued.result().status_code == 200
    assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
    assert response.json() == {
        "error": "the model's queue is full (1 pictures waiting, of at most 1): send yours again in a moment"
    }


def test_a_one_drawn_on_the_page_in_chromium_is_classified_and_so_is_an_upload(server, digits, tmp_path):
    if reason := browser.missing():
        pytest.skip(reason)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    url, log = server
    driver = browser.chromium(1000, 700)
    screenshot = tmp_path / "page.png"
    try:
        driver.get(url)
        WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart .fill")) == 10)
        canvas = driver.find_element(By.ID, "canvas")
        assert (canvas.size["width"], canvas.size["height"]) == (280, 280)  # 10 times 28x28
        stroke = ActionChains(driver).move_to_element_with_offset(canvas, 0, -90).click_and_hold()
        for _ in range(9):
            stroke.move_by_offset(0, 20)
        stroke.release().perform()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "top-class").text != "–")
        WebDriverWait(driver, 10).until(lambda d: not d.execute_script("return busy"))
        widths = driver.execute_script(
            "return [...document.querySelectorAll('#chart .track')].map(track => "
            "[track.previousSibling.textContent, track.firstChild.getBoundingClientRect().width, "
            "track.getBoundingClientRect().width])"
        )
        driver.save_screenshot(str(screenshot))
        assert driver.find_element(By.ID, "top-class").text == "one", f"screenshot: {screenshot}"
        bars = {name: width / track for name, width, track in widths}
        assert list(bars) == CLASSES and max(bars, key=bars.get) == "one", (bars, f"screenshot: {screenshot}")
        assert bars["one"] > 0.5 and abs(sum(bars.values()) - 1) < 0.02, bars
        driver.find_element(By.ID, "clear").click()
        assert driver.find_element(By.ID, "top-class").text == "–"
        photo = tmp_path / "digit.png"
        photo.write_bytes(png(as_users_photo(digits[1][0][0], 0)))
        answer = httpx2.post(f"{url}/predict", files={"file": ("digit.png", photo.read_bytes())}).json()
        driver.find_element(By.ID, "upload").send_keys(str(photo))
        expected = answer["predictions"][0]["class"]
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "top-class").text == expected)
    except Exception:
        driver.save_screenshot(str(screenshot))
        print(f"screenshot of the page: {screenshot}\nthe server's log:\n{log.read_text()}")
        raise
    finally:
        driver.quit()


def test_200_requests_from_8_clients_are_all_answered_within_a_second(server, digits):
    url, log = server
    figures = load(url, png(as_users_photo(digits[1][0][0], 0)), requests=200, clients=8)
    print(describe(figures, clients=8))
    assert figures["ok"] == figures["requests"] == 200, log.read_text()[-2000:]
    assert figures["max"] < 1.0, figures
    assert sum(" 200 " in line and "POST /predict" in line for line in log.read_text().splitlines()) >= 200
