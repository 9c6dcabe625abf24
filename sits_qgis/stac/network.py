"""A request that got no answer, said in plain words: which host, what happened and
what to try, instead of urllib3's ``NewConnectionError('<urllib3.connection...>:
Failed to establish a new connection: [Errno 111] Connection refused')``.

pystac-client turns requests' exceptions into an ``APIError`` holding only their text;
the original stays in the exception's chain (``__context__``), and urllib3's own cause
in ``MaxRetryError.reason``: the chain is searched for what happened.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

#: What to check when a proxy stands between this computer and the catalogue.
PROXY_HINT = (
    "Check the proxy's address and that it runs (the HTTPS_PROXY and HTTP_PROXY"
    " environment variables QGIS was started with), or ask your network administrator."
)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it: causes, contexts, urllib3's reasons and the
    exceptions given as arguments, each once, nearest first."""
    queue: list[BaseException] = [exc]
    seen: set[int] = set()
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(current.args)
        queue += [e for e in linked if isinstance(e, BaseException)]


def failed_address(chain: list[BaseException], url: str) -> tuple[str, int | None]:
    """The host and port of the request that failed (requests keeps the request; a
    next page may be on another host), else those of ``url``."""
    for exc in chain:
        request = getattr(exc, "request", None)
        if getattr(request, "url", None):
            url = request.url
            break
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or url, port or default


def _kind(chain: list[BaseException]) -> str:
    """What happened, from the most telling exception of the chain."""
    import requests
    import urllib3.exceptions as u3

    names = {type(e).__name__ for e in chain}
    if any(isinstance(e, (u3.ProxyError, requests.exceptions.ProxyError)) for e in chain):
        return "proxy"
    if any(isinstance(e, (ssl.SSLError, u3.SSLError, requests.exceptions.SSLError)) for e in chain):
        return "tls"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        return "name"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "refused"
    timeouts = (TimeoutError, u3.TimeoutError, requests.exceptions.Timeout)
    if any(isinstance(e, timeouts) for e in chain):
        return "timeout"
    if any(isinstance(e, (ConnectionError, u3.ProtocolError)) for e in chain):
        return "dropped"
    return ""


def _certificate_reason(chain: list[BaseException]) -> str:
    for exc in chain:
        if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
            return f" ({exc.verify_message})"
    return ""


def network_problem(exc: BaseException, url: str, timeout_s: float | None = None) -> str | None:
    """What went wrong on the way to ``url``, in a sentence or two that name the host
    and say what to try; ``None`` when ``exc`` is not a failure to get an answer (an
    answer with an error status, a body that is not JSON...)."""
    chain = list(causes(exc))
    kind = _kind(chain)
    if not kind:
        return None
    host, port = failed_address(chain, url)
    within = f" within {timeout_s:g} s" if timeout_s else ""
    sentences = {
        "proxy": f"the proxy on the way to {host} cannot be reached or refused the"
        f" connection. {PROXY_HINT}",
        "tls": f"the TLS (https) certificate of {host} cannot be"
        f" verified{_certificate_reason(chain)}. Check the address; if your network"
        " inspects https traffic (a company proxy), give its certificate authority in the"
        " REQUESTS_CA_BUNDLE environment variable; otherwise the server's certificate is"
        " wrong or expired, which its operator must fix.",
        "name": f"the host name {host} cannot be resolved (there is no such name, or no"
        " name server answers). Check the address's spelling and this computer's network"
        " connection.",
        "refused": f"{host} refuses connections on port {port} (nothing listens there, or"
        " a firewall refuses them). Check the address and its port, and that the"
        " catalogue's server is running.",
        "timeout": f"{host} did not answer{within}. The catalogue may be down or"
        " overloaded, or a firewall drops the connection: try again later, or raise the"
        " HTTP timeout in Processing options > Providers > SITS.",
        "dropped": f"the connection to {host} was closed before an answer came. Try again;"
        " if it keeps happening, check the network connection and any proxy.",
    }
    return sentences[kind]
