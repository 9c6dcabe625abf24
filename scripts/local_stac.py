"""Real local servers for tests, the demo and benchmarks: a STAC API (``rustac serve``,
one per convention) over a generated catalogue, and a Range-capable file server for
its COGs, all on 127.0.0.1 with free ports, stopped on exit.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sample_catalogue import SampleCatalogue, Site, make_catalogue

HERE = Path(__file__).resolve().parent
START_SECONDS = 30


def rewritten_collection(
    source: Path,
    folder: Path,
    item: Callable[[dict], dict | None],
    collection: Callable[[dict], dict] | None = None,
) -> Path:
    """``folder`` made a copy of the generated collection ``source`` (its
    ``collection.json`` and ``items.ndjson``) with each item changed by ``item`` (which
    may change it in place and return ``None``) and the collection by ``collection``:
    how tests give the same scenes other addresses, stores or asset keys."""
    folder.mkdir(parents=True)
    document = json.loads((source / "collection.json").read_text())
    if collection is not None:
        document = collection(document)
    (folder / "collection.json").write_text(json.dumps(document))
    lines = []
    for line in (source / "items.ndjson").read_text().splitlines():
        original = json.loads(line)
        changed = item(original)
        lines.append(json.dumps(original if changed is None else changed))
    (folder / "items.ndjson").write_text("\n".join(lines) + "\n")
    return folder


@dataclass
class LocalStac:
    files_url: str
    stac_urls: dict[str, str]
    http_log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rustac() -> str:
    """The rustac command installed next to the running interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "rustac"
    found = str(beside) if beside.exists() else shutil.which("rustac")
    if not found:
        raise RuntimeError("rustac is not installed (pip install rustac)")
    return found


@contextmanager
def _process(
    command: list[str], url: str, cwd: Path, log: Path, answer_seconds: float = 0.0
) -> Iterator[None]:
    """Start a server, wait until ``url`` answers (each answer may take
    ``answer_seconds`` more than the usual 2 s), stop it on exit."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                urllib.request.urlopen(url, timeout=2 + answer_seconds).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{command[0]} did not start: {log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def serve_folder(
    root: Path,
    make: Callable[[str], dict[str, Path]],
    latency_ms: float = 0.0,
    *,
    mbit: float = 0.0,
    paths: Path | None = None,
) -> Iterator[LocalStac]:
    """Serve ``root`` with the Range file server, then each collection folder (holding
    ``collection.json`` and ``items.ndjson``) that ``make(files_url)`` writes, one STAC
    API per collection; stop them all on exit. The file server answers each request
    after ``latency_ms`` and shares ``mbit`` Mbit/s (0: no cap) between its
    connections, as a remote store seen from a desktop would; ``paths`` (a JSON file:
    URL path to a file under ``root``) lets a few files serve many addresses."""
    root.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        port = free_port()
        files_url = f"http://127.0.0.1:{port}"
        http_log = root / "http_requests.log"
        http_log.write_text("")
        command = [sys.executable, str(HERE / "range_file_server.py"), str(root), str(port),
                   str(http_log), "--latency-ms", str(latency_ms), "--mbit", str(mbit)]  # fmt: skip
        if paths is not None:
            command += ["--paths", str(paths)]
        stack.enter_context(
            _process(
                command, files_url + "/", root, root / "file_server.out",
                answer_seconds=latency_ms / 1000,
            )
        )  # fmt: skip
        stac_urls = {}
        for name, folder in make(files_url).items():
            address = f"127.0.0.1:{free_port()}"
            stack.enter_context(
                _process(
                    [rustac(), "serve", "-a", address, "collection.json", "items.ndjson"],
                    f"http://{address}/",
                    folder,
                    folder / "rustac.out",
                )
            )
            stac_urls[name] = f"http://{address}"
        http_log.write_text("")  # count only what users of the catalogue read
        yield LocalStac(files_url, stac_urls, http_log)


@contextmanager
def serve_catalogue(
    root: Path, sites: list[Site], dates: list[date], *, tile_pixels: int = 256,
    conventions: tuple[str, ...] = ("earth-search", "planetary-computer"),
    latency_ms: float = 0.0,
) -> Iterator[tuple[LocalStac, SampleCatalogue]]:  # fmt: skip
    """Generate (or reuse) the Sentinel-2 catalogue under ``root`` and serve it until
    exit (``serve_folder``)."""
    made: list[SampleCatalogue] = []

    def make(files_url: str) -> dict[str, Path]:
        made.append(
            make_catalogue(
                root, sites, dates, files_url, tile_pixels=tile_pixels, conventions=conventions
            )
        )
        return made[0].collections

    with serve_folder(root, make, latency_ms) as served:
        yield served, made[0]
