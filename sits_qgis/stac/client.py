"""Open a STAC API the way a long unattended run needs it: retries, timeouts, a request
rate cap, credentials in headers, and errors phrased for the user. (Asset addresses
are signed when read: ``signing``.)

pystac-client retries through urllib3 when given a ``Retry``; its default retries
neither on 429/5xx answers nor with backoff, so one is configured here.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SitsError
from ..redact import scrubbed
from .catalogues import Catalogue
from .network import network_problem

#: Seconds to wait for a connection, at most (the answer may take ``timeout_s``).
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class HttpSettings:
    """How long to wait for an answer, and how often to try again, for the STAC API and
    for GDAL's image reads (QGIS's Processing options set them)."""

    timeout_s: float = 60.0
    #: attempts after the first one (backoff 0.5 s, 1 s, 2 s, 4 s... for the API)
    retries: int = 4

    def __post_init__(self) -> None:
        if self.timeout_s < 1 or self.retries < 0:
            raise SitsError(
                f"HTTP timeout {self.timeout_s:g} s and retries {self.retries}: the timeout"
                " must be at least 1 second and the retries 0 or more.",
                "HTTP settings",
            )

    @property
    def api_timeout(self) -> tuple[float, float]:
        """requests' (connect, read) timeouts."""
        return min(CONNECT_TIMEOUT, self.timeout_s), self.timeout_s


#: The settings when none are given (immutable, so one instance serves everyone).
DEFAULT_HTTP = HttpSettings()


def retry_policy(retries: int) -> Any:
    """urllib3 retries with exponential backoff, also for throttling and server errors."""
    from urllib3.util.retry import Retry

    return Retry(
        total=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        raise_on_status=False,
    )


class RequestCounter:
    """Counts the API requests a run makes (a ``request_modifier``): a run is meant to
    make one search (followed through its pages), and tests and benchmarks check it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bool]] = []

    #: Fields with which APIs ask for a next page (Earth Search ``next``, Planetary
    #: Computer ``token``, rustac ``skip``...).
    PAGE_FIELDS = frozenset({"token", "next", "skip", "page", "offset"})

    def __call__(self, request: Any) -> None:
        fields = set(request.json if isinstance(request.json, dict) else {})
        fields |= set(request.params or {})
        fields |= {part.split("=")[0] for part in request.url.partition("?")[2].split("&")}
        self.requests.append((request.method, request.url, bool(fields & self.PAGE_FIELDS)))

    def count(self, path_end: str) -> int:
        """Requests whose URL path ends with ``path_end`` (e.g. ``/search``), pages included."""
        return sum(1 for _, url, _ in self.requests if url.split("?")[0].endswith(path_end))

    def searches(self) -> int:
        """Searches started: requests to ``/search`` that do not ask for a next page."""
        return sum(
            1
            for _, url, page in self.requests
            if url.split("?")[0].endswith("/search") and not page
        )


class Throttle:
    """Spaces a catalogue's requests to at most ``rate`` per second (a
    ``request_modifier``, called before each request): the Copernicus STAC API, for one,
    refuses clients that go faster. Answers of 429/503 are retried after their
    ``Retry-After`` by urllib3 (``retry_policy``)."""

    def __init__(self, rate: float, then: Callable[[Any], None] | None = None) -> None:
        self.interval = 1.0 / rate
        self.then = then
        self.next_at = 0.0
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> None:
        with self.lock:
            now = time.monotonic()
            wait = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if wait > 0:
            time.sleep(wait)
        if self.then is not None:
            self.then(request)


#: Waits before trying again a request whose answer was cut short: 0.5 s, 1 s, 2 s...
PATIENCE_BASE_S = 0.5


def patient_stac_io(attempts: int, **kwargs: Any) -> Any:
    """pystac-client's ``StacApiIO`` that also tries again what urllib3's retries cannot
    see, because it happens after the answer's status: a body cut short (shorter than
    its Content-Length), a connection dropped while the body was read, a body that is
    not JSON (a proxy's error page). Answers with a status are not tried again here
    (urllib3 has retried 429 and 5xx)."""
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    class PatientStacApiIO(StacApiIO):
        def request(self, href: str, method: str | None = None,
                    headers: dict[str, str] | None = None,
                    parameters: dict[str, Any] | None = None) -> str:  # fmt: skip
            attempt = 0
            while True:
                try:
                    text = super().request(href, method, headers, parameters)
                    json.loads(text)  # whole, or tried again
                    return text
                except APIError as exc:
                    # an answer with a status, or urllib3 already gave up (no connection)
                    answered = getattr(exc, "status_code", None) is not None
                    if answered or "Max retries exceeded" in str(exc) or attempt >= attempts:
                        raise
                except ValueError:
                    if attempt >= attempts:
                        raise
                # jitter, not a secret: bandit's B311 does not apply
                jitter = random.uniform(0.5, 1.5)  # nosec B311
                time.sleep(PATIENCE_BASE_S * 2**attempt * jitter)
                attempt += 1

    return PatientStacApiIO(**kwargs)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = scrubbed(f"{type(exc).__name__}: {exc}".strip())
    return text if len(text) <= limit else text[:limit] + "..."


def unreachable(
    where: str, exc: BaseException, url: str, http: HttpSettings, parameter: str
) -> SitsError:
    """The catalogue could not be reached: what happened in plain words when the
    exception says (``network.network_problem``), else its short text."""
    problem = network_problem(exc, url, http.timeout_s)
    if problem:
        return SitsError(f"Cannot reach {where}: {problem}", parameter)
    return SitsError(
        f"Cannot reach {where} ({_short(exc)}). Check the address, your network and proxy"
        " settings.",
        parameter,
    )


def open_catalogue(
    catalogue: Catalogue,
    headers: Mapping[str, str] | None = None,
    parameter: str = "STAC_URL",
    counter: RequestCounter | None = None,
    http: HttpSettings = DEFAULT_HTTP,
) -> Any:
    """A ``pystac_client.Client`` for ``catalogue``, checked to be a searchable STAC API."""
    import pystac_client
    import requests
    from pystac_client.exceptions import APIError

    modifier: Callable[[Any], None] | None = counter
    if catalogue.requests_per_second:
        modifier = Throttle(catalogue.requests_per_second, counter)
    stac_io = patient_stac_io(
        http.retries,
        headers=dict(headers or {}),
        timeout=http.api_timeout,
        max_retries=retry_policy(http.retries),
        request_modifier=modifier,
    )
    where = f"the STAC API at {catalogue.shown}"
    try:
        client = pystac_client.Client.open(
            catalogue.url,
            headers=dict(headers or {}),
            request_modifier=modifier,
            stac_io=stac_io,
            timeout=http.api_timeout,
        )
    except SitsError:
        raise
    except APIError as exc:
        if getattr(exc, "status_code", None) in (401, 403):
            raise SitsError(
                f"{where} refuses access (HTTP {exc.status_code}): it needs credentials."
                " Choose them in AUTHCFG (a QGIS authentication configuration holding the"
                " catalogue's token or user name and password); if one is chosen, it is"
                " wrong or has expired.",
                "AUTHCFG",
            ) from None
        raise unreachable(where, exc, catalogue.url, http, parameter) from None
    except requests.RequestException as exc:
        raise unreachable(where, exc, catalogue.url, http, parameter) from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise SitsError(
            f"{where} did not answer with valid STAC JSON ({_short(exc)}). Check that"
            " the address is the root of a STAC API.",
            parameter,
        ) from None
    except Exception as exc:  # pystac-client's APIError and pystac's type errors
        raise SitsError(
            f"{where} did not answer as a STAC API ({_short(exc)}).",
            parameter,
        ) from None
    from pystac_client.conformance import ConformanceClasses

    if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):
        raise SitsError(
            f"{where} does not offer item search (its landing page does not declare the"
            " STAC API item-search conformance class), so it cannot be searched. Give"
            " the root address of a STAC API.",
            parameter,
        )
    return client
