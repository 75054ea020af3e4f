import hashlib
import http.server
import threading

import pytest

from stages.lib.errors import DownloadError
from stages.lib.fetching import MIRROR_ENV, fetch, location, sources

CONTENT = b"MNIST bytes" * 1000
SHA = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1; `routes` maps a path to a list of responses
    (status, body) served in turn, the last one repeating."""
    routes = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            responses = routes.get(self.path, [(404, b"")])
            status, body = responses.pop(0) if len(responses) > 1 else responses[0]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
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
    assert sources(["https://a/", "https://b/"], {MIRROR_ENV: "/local"}) == ["/local", "https://a/", "https://b/"]
    assert sources(["https://a/"], {}) == ["https://a/"]


def test_location_joins_folders_and_urls():
    assert location("https://host/mnist", "f.gz") == "https://host/mnist/f.gz"
    assert location("https://host/mnist/", "f.gz") == "https://host/mnist/f.gz"
    assert location("/data/mnist", "f.gz") == "/data/mnist/f.gz"


def test_local_folder(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "f.gz").write_bytes(CONTENT)
    assert fetch("f.gz", SHA, [str(tmp_path / "mirror")], tmp_path / "out" / "f.gz") == str(tmp_path / "mirror")
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
        fetch("f.gz", SHA, [str(tmp_path / "nowhere"), f"{url}/missing", f"{url}/bad"], tmp_path / "f.gz", backoff=0)
    message = str(error.value)
    assert f"{tmp_path / 'nowhere' / 'f.gz'}: no such file" in message
    assert f"{url}/missing/f.gz: HTTP 404" in message
    assert f"{url}/bad/f.gz: ChecksumMismatch: sha256 is " in message
    assert f"Set {MIRROR_ENV} to a folder or URL" in message
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file left
