"""A catalogue that cannot be reached is said in plain words: the host, what happened
(connection refused, name not resolved, no answer in time, a TLS certificate that
cannot be verified, a proxy that does not answer) and what to try; never urllib3's
``NewConnectionError('<urllib3.connection.HTTPConnection object at 0x...>: ...')``.

Each case is real: a closed port on 127.0.0.1, a name under ``.invalid`` (reserved,
never resolves), a server that accepts connections and never answers, an https server
with a self-signed certificate, a proxy address where nothing listens.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sits_qgis.errors import SitsError
from sits_qgis.stac.catalogues import resolve_catalogue
from sits_qgis.stac.client import HttpSettings, open_catalogue
from sits_qgis.stac.network import network_problem

#: One attempt and the shortest timeout: each case fails within a second or two.
QUICK = HttpSettings(timeout_s=1, retries=0)
#: What a raw library message looks like; none of it may reach the user.
RAW = ("NewConnectionError", "urllib3", "object at 0x", "Max retries", "Errno")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refusal(url: str, http: HttpSettings = QUICK) -> str:
    """The message of opening ``url`` as a catalogue, checked to be plain words."""
    with pytest.raises(SitsError) as caught:
        open_catalogue(resolve_catalogue(url), http=http)
    message = str(caught.value)
    assert caught.value.parameter == "STAC_URL", message
    assert not any(raw in message for raw in RAW), message
    return message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[str]:
    """An https server whose certificate no authority signed."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda *_: None  # the refused handshakes are expected
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_refused_connection_names_the_host_and_port() -> None:
    port = closed_port()
    message = refusal(f"http://127.0.0.1:{port}/stac")
    assert message.startswith("Cannot reach the STAC API at http://127.0.0.1:")
    assert f"127.0.0.1 refuses connections on port {port}" in message
    assert "that the catalogue's server is running" in message


def test_a_name_that_does_not_resolve_is_said_as_such() -> None:
    message = refusal("http://nonexistent.invalid/")
    assert "the host name nonexistent.invalid cannot be resolved" in message
    assert "spelling" in message


def test_a_server_that_never_answers_is_a_timeout(silent_server: str) -> None:
    started = time.monotonic()
    message = refusal(silent_server)
    assert time.monotonic() - started < 10
    assert "did not answer within 1 s" in message and "HTTP timeout" in message


def test_a_certificate_that_cannot_be_verified_is_said(self_signed_server: str) -> None:
    message = refusal(self_signed_server)
    assert "the TLS (https) certificate of 127.0.0.1 cannot be verified" in message
    assert "self-signed certificate" in message and "REQUESTS_CA_BUNDLE" in message


def test_a_proxy_that_does_not_answer_is_named(monkeypatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port()}")
    message = refusal("http://stac.example.org/v1")
    assert "the proxy on the way to stac.example.org cannot be reached" in message
    assert "HTTPS_PROXY" in message


def test_the_search_says_the_same_when_the_catalogue_stops_answering() -> None:
    """A failure after the landing page (the collection, the pages) is said alike."""
    import requests

    try:
        requests.get(f"http://127.0.0.1:{closed_port()}/search", timeout=1)
    except requests.RequestException as exc:
        problem = network_problem(exc, "http://other.example.org/")
    assert problem is not None and problem.startswith("127.0.0.1 refuses connections")


def test_other_failures_are_left_to_their_own_message() -> None:
    assert network_problem(ValueError("not JSON"), "http://127.0.0.1/") is None
