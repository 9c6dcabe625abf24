"""Planetary Computer's signed asset addresses, signed when read and renewed before
they expire.

Its blobs are readable only with a shared access signature (SAS) appended to the URL,
which its token service hands out per storage account and container for about an hour.
A run of thousands of features can outlast a token, so addresses are signed by the
process that reads them, just before reading, with a token that still has time left;
and an answer 403 to a signed address renews the token once.

Why not the ``planetary-computer`` package: it signs only ``*.blob.core.windows.net``
hosts from a fixed token service, where this also follows the token service a profile
names and Azure's path-style addresses (``http://host:port/account/container/blob``,
as Azure's storage emulator serves them), so the renewal is tested against local
servers; and it is about 60 lines.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlparse

from ..errors import SitsError

#: A token is renewed when it has less than this left, or less than half of the time it
#: was given (so a service handing out short tokens is not asked at every read).
RENEW_BEFORE_S = 300.0
AZURE_BLOB_SUFFIX = ".blob.core.windows.net"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return True


def blob_container(href: str) -> tuple[str, str] | None:
    """(storage account, container) of an Azure blob address, or ``None`` for any
    other address (which is read as it is)."""
    parsed = urlparse(href)
    host = parsed.hostname or ""
    parts = [p for p in parsed.path.split("/") if p]
    if host.endswith(AZURE_BLOB_SUFFIX) and len(parts) >= 2:
        return host[: -len(AZURE_BLOB_SUFFIX)], parts[0]
    if _is_ip(host) and len(parts) >= 3:  # path style: /account/container/blob
        return parts[0], parts[1]
    return None


def _expiry(text: str) -> float:
    """Seconds since the epoch of the token service's ``msft:expiry``."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


class SasSigner:
    """Signs Azure blob addresses with tokens from ``token_url`` (one token per account
    and container, kept until it is nearly spent). Thread-safe: read threads share it."""

    def __init__(self, token_url: str, timeout_s: float = 30.0) -> None:
        self.token_url = token_url.rstrip("/")
        self.timeout_s = timeout_s
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        #: Tokens fetched by this signer (tests and the log count renewals).
        self.fetched = 0

    def sign(self, href: str) -> str:
        """``href`` with a valid token in place of any it had; unchanged if not a blob."""
        where = blob_container(href)
        if where is None:
            return href
        return f"{href.split('?', 1)[0]}?{self._token(where)}"

    def forget(self, href: str) -> None:
        """Drop the token of ``href``'s container (it was refused): the next ``sign``
        fetches a new one."""
        where = blob_container(href)
        with self._lock:
            self._tokens.pop(where, None)  # type: ignore[arg-type]

    def _token(self, where: tuple[str, str]) -> str:
        with self._lock:
            token, renew_at = self._tokens.get(where, ("", 0.0))
            if token and time.time() < renew_at:
                return token
            token, renew_at = self._fetch(where)
            self._tokens[where] = (token, renew_at)
            return token

    def _fetch(self, where: tuple[str, str]) -> tuple[str, float]:
        import requests

        url = f"{self.token_url}/{where[0]}/{where[1]}"
        try:
            answer = requests.get(url, timeout=self.timeout_s)
            answer.raise_for_status()
            body: Mapping[str, str] = answer.json()
            token, expiry = str(body["token"]), _expiry(str(body["msft:expiry"]))
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise SitsError(
                f"The token service {self.token_url} gives no token for the images in"
                f" {where[0]}/{where[1]} ({type(exc).__name__}: {exc}). The catalogue"
                " signs its image addresses with these tokens; try again later.",
                "STAC_URL",
            ) from None
        self.fetched += 1
        now = time.time()
        return token, min(expiry - RENEW_BEFORE_S, now + (expiry - now) / 2)


_signers: dict[str, SasSigner] = {}
_signers_lock = threading.Lock()


def signer_for(token_url: str | None) -> SasSigner | None:
    """This process's signer for a token service (``None``: addresses are not signed)."""
    if not token_url:
        return None
    with _signers_lock:
        if token_url not in _signers:
            _signers[token_url] = SasSigner(token_url)
        return _signers[token_url]
