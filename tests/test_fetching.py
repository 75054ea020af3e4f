import hashlib
import http.server
import io
import socket
import threading
import time
import zipfile

import pytest

from stages.lib.core.errors import DownloadError
from stages.lib.data.fetching import MIRROR_ENV, fetch, location, sources

CONTENT = b"MNIST bytes" * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1; `routes` maps a path to a list of responses
    served in turn, the last one repeating: (status, body), or (status, body,
    options) with `location` (a redirect's target), `length` (a Content-Length that
    differs from the body's: a body cut short) or `stall` (seconds to wait first)."""
    routes = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            responses = routes.get(self.path, [(404, b"")])
            status, body, *rest = responses.pop(0) if len(responses) > 1 else responses[0]
            options = rest[0] if rest else {}
            time.sleep(options.get("stall", 0))
            self.send_response(status)
            if "location" in options:
                self.send_header("Location", options["location"])
            self.send_header("Content-Length", str(options.get("length", len(body))))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", routes
    httpd.shutdown()
    httpd.server_close()


def test_mirror_env_comes_first():
    assert sources(["https://a/", "https://b/"], {MIRROR_ENV: "/local"}) == [
        "/local",
        "https://a/",
        "https://b/",
    ]
    assert sources(["https://a/"], {"MNIST_MIRROR": "/old"}) == ["/old", "https://a/"]  # the older name
    assert sources(["https://a/"], {MIRROR_ENV: "/new", "MNIST_MIRROR": "/old"}) == [
        "/new",
        "/old",
        "https://a/",
    ]
    assert sources(["https://a/"], {}) == ["https://a/"]


def test_location_joins_folders_and_urls():
    assert location("https://host/mnist", "f.gz") == "https://host/mnist/f.gz"
    assert location("https://host/mnist/", "f.gz") == "https://host/mnist/f.gz"
    assert location("/data/mnist", "f.gz") == "/data/mnist/f.gz"


def test_local_folder(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "f.gz").write_bytes(CONTENT)
    assert fetch("f.gz", SHA, [str(tmp_path / "mirror")], tmp_path / "out" / "f.gz") == str(
        tmp_path / "mirror"
    )
    assert (tmp_path / "out" / "f.gz").read_bytes() == CONTENT


def test_wrong_checksum_moves_on_and_leaves_nothing(tmp_path, server):
    url, routes = server
    routes["/bad/f.gz"] = [(200, b"not MNIST")]
    routes["/good/f.gz"] = [(200, CONTENT)]
    out = tmp_path / "out"
    assert fetch("f.gz", SHA, [f"{url}/bad", f"{url}/good"], out / "f.gz", backoff=0) == f"{url}/good"
    assert [p.name for p in out.iterdir()] == ["f.gz"]


def test_server_error_is_retried(tmp_path, server):
    url, routes = server
    routes["/m/f.gz"] = [(500, b""), (200, CONTENT)]
    assert fetch("f.gz", SHA, [f"{url}/m"], tmp_path / "f.gz", backoff=0) == f"{url}/m"


def test_no_source_works_lists_every_source(tmp_path, server):
    url, routes = server
    routes["/bad/f.gz"] = [(200, b"not MNIST")]
    with pytest.raises(DownloadError) as error:
        fetch(
            "f.gz",
            SHA,
            [str(tmp_path / "nowhere"), f"{url}/missing", f"{url}/bad"],
            tmp_path / "f.gz",
            backoff=0,
        )
    message = str(error.value)
    assert f"{tmp_path / 'nowhere' / 'f.gz'}: no such file" in message
    assert f"{url}/missing/f.gz: HTTP 404" in message
    assert f"{url}/bad/f.gz: ChecksumMismatch: sha256 is " in message
    assert f"Set {MIRROR_ENV} to a folder or URL" in message
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file left


def test_redirect_is_followed(tmp_path, server):
    url, routes = server
    routes["/old/f.gz"] = [(302, b"", {"location": f"{url}/new/f.gz"})]
    routes["/new/f.gz"] = [(200, CONTENT)]
    assert fetch("f.gz", SHA, [f"{url}/old"], tmp_path / "f.gz", backoff=0) == f"{url}/old"
    assert (tmp_path / "f.gz").read_bytes() == CONTENT


def test_body_cut_short_is_retried_and_named(tmp_path, server):
    url, routes = server
    cut = (200, CONTENT[:100], {"length": len(CONTENT)})
    routes["/flaky/f.gz"] = [cut, (200, CONTENT)]
    routes["/cut/f.gz"] = [cut]
    assert fetch("f.gz", SHA, [f"{url}/flaky"], tmp_path / "out" / "f.gz", backoff=0) == f"{url}/flaky"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["f.gz"]
    with pytest.raises(
        DownloadError, match=rf"{url}/cut/f.gz: CutShort: body cut short: got 100 of {len(CONTENT)} bytes"
    ):
        fetch("f.gz", SHA, [f"{url}/cut"], tmp_path / "again" / "f.gz", backoff=0)
    assert not (tmp_path / "again").exists() or list((tmp_path / "again").iterdir()) == []


def test_stalled_server_times_out_and_refused_connection_fails(tmp_path, server):
    url, routes = server
    routes["/slow/f.gz"] = [(200, CONTENT, {"stall": 2})]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(DownloadError) as error:
        fetch("f.gz", SHA, [f"{url}/slow", closed], tmp_path / "f.gz", timeout=0.5, attempts=2, backoff=0)
    assert time.monotonic() - started < 10
    message = str(error.value)
    assert f"{url}/slow/f.gz: " in message and "timed out" in message
    assert f"{closed}/f.gz: unreachable (" in message and "refused" in message
    assert list(tmp_path.iterdir()) == []


def test_local_mirror_with_a_corrupt_file_moves_on(tmp_path):
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "f.gz").write_bytes(CONTENT[:-1])
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "f.gz").write_bytes(CONTENT)
    sources_tried = [str(tmp_path / "corrupt"), str(tmp_path / "good")]
    assert fetch("f.gz", SHA, sources_tried, tmp_path / "out" / "f.gz", backoff=0) == str(tmp_path / "good")
    assert (tmp_path / "out" / "f.gz").read_bytes() == CONTENT


def test_an_archive_is_fetched_from_a_url_verified_and_unpacked_into_data_raw(tmp_path, server, monkeypatch):
    from stages.download import download_archive

    url, routes = server
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("shapes/train/ring/a.png", b"x")
    routes["/files/my%20pictures.zip"] = [(200, packed.getvalue())]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DownloadError, match="Check dataset.archive.source, and dataset.archive.sha256"):
        download_archive(f"{url}/files/my%20pictures.zip", SHA)
    assert not (tmp_path / "data" / "raw").exists()
    download_archive(f"{url}/files/my%20pictures.zip", hashlib.sha256(packed.getvalue()).hexdigest())
    assert (tmp_path / "data/raw/shapes/train/ring/a.png").read_bytes() == b"x"
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == ["raw"]  # no work folder left
