"""How a worker reaches an asset: its address as the catalogue gives it, signed when
the catalogue signs them, and GDAL's settings for the network, the credentials and
S3 buckets; and what a refusal means, in the user's terms.

Everything here is plain and picklable (``Access`` travels with each feature), and the
secrets it holds (headers, S3 keys) live only in memory: they are set as GDAL options
of the reading thread, never in the environment, an output or a message.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..redact import scrubbed, shown_url, without_queries
from ..stac.client import DEFAULT_HTTP, HttpSettings
from ..stac.signing import signer_for
from .blockcache import CacheSettings
from .problems import FeatureProblem

#: GDAL settings for reading COGs over HTTP: no directory listing, retries with
#: backoff (GDAL retries 429 and 5xx answers), bounded waits, merged neighbouring
#: ranges, a per-process block cache. No HTTP/2 multiplexing: measured, it doubled the
#: CPU of every file open (3.7 ms against 1.1 ms on 127.0.0.1) and a feature's reads
#: are many small files.
GDAL_HTTP_OPTIONS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.jp2",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "GDAL_HTTP_CONNECTTIMEOUT": "15",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "NO",
    # the header (Sentinel-2 L2A COGs: well under 32 KiB) in the first ranged GET
    "GDAL_INGESTED_BYTES_AT_OPEN": "32768",
    "VSI_CACHE": "TRUE",
    "GDAL_CACHEMAX": "256",
    # the CRS as the file's GeoKeys say, without comparing it to the EPSG database's
    # definition of their code: the same WKT for Sentinel-2's UTM COGs, and an opening
    # costs 0.4 ms of CPU instead of 1.3 ms
    "GTIFF_SRS_SOURCE": "GEOKEYS",
}
#: No HEAD before the first ranged GET, whose Content-Range gives the file's size: one
#: round trip less per file (20-80 ms to a cloud store from a desktop; measured on the
#: real-size catalogue: 60 requests instead of 90 for 12 dates of one point). Only
#: where GDAL does it with a ranged GET: before 3.6.3 it downloaded the whole file
#: (OSGeo/gdal#7150; measured on Debian 12's 3.6.2: 399 MB instead of 31 MB).
NO_HEAD = {"CPL_VSIL_CURL_USE_HEAD": "NO"}
NO_HEAD_SINCE = (3, 6, 3)
#: The HTTP status in GDAL's messages ("HTTP response code on URL: 503"; 0: no answer).
HTTP_CODE = re.compile(r"HTTP response code[^\n]*?: (\d+)")
#: What GDAL says of an address it got no file from (its HTTP status unsaid: GDAL 3.10
#: says this of a 404, GDAL 3.6 nothing at all).
NOT_FOUND = "does not exist in the file system"
#: The address schemes read without the user's leave.
REMOTE_SCHEMES = ("http://", "https://", "s3://")
#: The environment variables with which GDAL finds AWS credentials by itself.
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")


@functools.cache
def gdal_version() -> tuple[int, ...]:
    """The version of the GDAL that reads (its Python bindings, else rasterio's own)."""
    try:
        from osgeo import gdal

        text = gdal.__version__
    except ImportError:
        import rasterio

        text = rasterio.__gdal_version__
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


@dataclass(frozen=True)
class Access:
    """What reading a collection's files needs besides their addresses."""

    #: The catalogue's credential headers (AUTHCFG), if any.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    http: HttpSettings = DEFAULT_HTTP
    #: The token service that signs the addresses (Planetary Computer), if any.
    token_url: str | None = None
    #: AWS credentials for ``s3://`` hrefs (AUTHCFG's AWS S3 method), as GDAL options.
    s3: dict[str, str] = field(default_factory=dict, repr=False)
    #: The bucket bills the reader (USGS Landsat): reads must say they accept it.
    requester_pays: bool = False
    #: What account the catalogue needs, in the profile's words, for messages.
    account: str | None = None
    #: GDAL's settings for the catalogue's own S3 endpoint, if it has one.
    s3_endpoint: dict[str, str] = field(default_factory=dict)
    #: Hosts (``host`` or ``host:port``) that get the ``headers``: the catalogue's, its
    #: profile's, and those the user lists; no other host ever sees the credentials.
    credential_hosts: frozenset[str] = frozenset()
    #: Whether local files and GDAL paths named by the catalogue may be read.
    local_files: bool = False
    #: The on-disk block cache for http(s) files, if the run uses one.
    cache: CacheSettings | None = None

    def sends_credentials(self, href: str) -> bool:
        """Whether the ``headers`` go with a request for ``href``."""
        parts = urlsplit(href)
        return bool({parts.hostname or "", parts.netloc.lower()} & self.credential_hosts)

    @property
    def has_s3_credentials(self) -> bool:
        return bool(self.s3) or any(os.environ.get(name) for name in AWS_VARIABLES)

    def gdal_options(self, href: str = "") -> dict[str, str]:
        """GDAL's settings for reading ``href``, with the credential headers when its
        host is one of ``credential_hosts``."""
        options = dict(GDAL_HTTP_OPTIONS)
        if gdal_version() >= NO_HEAD_SINCE:
            options.update(NO_HEAD)
        options["GDAL_HTTP_TIMEOUT"] = str(max(1, round(self.http.timeout_s)))  # whole seconds
        options["GDAL_HTTP_MAX_RETRY"] = str(self.http.retries)
        if self.headers and self.sends_credentials(href):
            options["GDAL_HTTP_HEADERS"] = "\r\n".join(f"{k}: {v}" for k, v in self.headers.items())
        options.update(self.s3_endpoint)
        if self.s3:
            options.update(self.s3)
        elif not self.has_s3_credentials:
            options["AWS_NO_SIGN_REQUEST"] = "YES"  # s3:// hrefs of public buckets
        if self.requester_pays:
            options["AWS_REQUEST_PAYER"] = "requester"
        return options

    def address(self, item: Mapping[str, Any], asset: str) -> str:
        """The asset's address to read now: signed with a token that has time left."""
        href = asset_href(item, asset, prefer_s3=self.has_s3_credentials)
        if not href.startswith(REMOTE_SCHEMES) and not self.local_files:
            raise FeatureProblem(
                f"asset '{asset}' of item {item.get('id')} is not an http(s) or s3:// address"
                f" ({shown(href)}): the catalogue names a local file or a GDAL path, which is"
                " not read unless Processing options > Providers > SITS allows local files"
            )
        signer = signer_for(self.token_url)
        return href if signer is None else signer.sign(href)

    def renewable(self, href: str, reason: str) -> bool:
        """Whether a refused read of a signed address is worth one more try with a new
        token (its token was refused: expired or revoked early)."""
        signer = signer_for(self.token_url)
        if signer is None or "?" not in href or not _refused(reason):
            return False
        signer.forget(href)
        return True

    def probe(self, href: str) -> str:
        """Why an http(s) file could not be opened when GDAL does not say (GDAL 3.6 gives
        no message for a 404): the server's own answer to a one-byte request."""
        if not href.startswith(("http://", "https://")):
            return "GDAL gave no reason"
        import requests

        headers = {"Range": "bytes=0-0"}
        if self.sends_credentials(href):
            headers.update(self.headers)
        try:
            answer = requests.get(href, headers=headers, timeout=self.http.api_timeout)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"
        if answer.status_code == 404:
            return (
                "HTTP 404 (Not Found): the file does not exist at the address the catalogue gives"
            )
        if answer.status_code >= 400:
            return f"HTTP response code: {answer.status_code} ({answer.reason})"
        return "GDAL cannot open it as a raster (a damaged file, or not an image)"

    def transient(self, reason: str) -> bool:
        """Whether another attempt may read the file: no answer or a dropped connection
        (GDAL's HTTP code 0), a body cut short (a decoding error); not a refusal, a
        missing file, or an answer 429/5xx (GDAL has retried those itself)."""
        if not reason or _refused(reason) or NOT_FOUND in reason:
            return False
        code = HTTP_CODE.search(reason)
        return code is None or code.group(1) == "0"

    def said(self, reason: str, href: str, attempts: int = 1, timed_out: bool = False) -> str:
        """GDAL's reason in the user's terms (addresses without their signatures);
        ``attempts`` made, the last of which ``timed_out`` or not."""
        remote = href.startswith(("http://", "https://"))
        if not reason or (NOT_FOUND in reason and remote):  # GDAL says not why: ask
            reason = self.probe(href)
        reason = scrubbed(without_queries(reason))
        tries = f"{attempts} attempts" if attempts > 1 else "one attempt"
        settings = "the HTTP timeout and retries are in Processing options > Providers > SITS"
        code = HTTP_CODE.search(reason)
        if code is not None and code.group(1) == "0":
            if timed_out:
                return (
                    f"no answer from the server within {max(1, round(self.http.timeout_s))} s,"
                    f" after {tries} ({settings})"
                )
            return (
                "the server closed or refused the connection before answering, after"
                f" {tries} (the network or the server is failing; {settings})"
            )
        if attempts > 1 and self.transient(reason):
            return f"{reason} (after {tries})"
        if not _refused(reason):
            return reason
        if href.startswith("s3://"):
            if self.has_s3_credentials:
                return (
                    f"the S3 bucket refuses these AWS credentials ({reason}): check"
                    " them in AUTHCFG (AWS S3 method), and that they may read this bucket"
                    + (" as a requester who pays" if self.requester_pays else "")
                )
            return (
                f"the S3 bucket refuses reads without credentials ({reason}): it is"
                " private or bills the reader; choose AWS credentials in AUTHCFG (QGIS's"
                " AWS S3 authentication method) or set AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY for QGIS, or read the asset's https alternate"
            )
        account = f". This catalogue needs: {self.account.rstrip('.')}" if self.account else ""
        if self.headers and not self.sends_credentials(href):
            host = urlsplit(href).netloc
            return (
                f"the server {host} refuses the file ({reason}), and AUTHCFG's credentials"
                " were not sent to it: they go only to the catalogue's host, its profile's"
                " and the hosts listed in Processing options > Providers > SITS; add"
                f" {host} there if it needs them{account}"
            )
        if self.headers:
            return (
                f"the server refuses the file with the credentials of AUTHCFG ({reason}):"
                " they are wrong or have expired (a NASA Earthdata token lasts 60 days);"
                f" renew them in the authentication configuration{account}"
            )
        return (
            f"the server refuses the file ({reason}): it needs credentials; choose them in"
            f" AUTHCFG{account}"
        )


#: GDAL's words for an answer 401 or 403 ("HTTP response code on URL: 403"), or S3's.
REFUSED = re.compile(
    r"HTTP response code[^\n]*: 40[13]\b|AccessDenied|Access Denied|AuthenticationFailed"
)


def _refused(reason: str) -> bool:
    """Whether GDAL's message is an HTTP 401 or 403 (or S3's access denied)."""
    return REFUSED.search(reason) is not None


def asset_href(item: Mapping[str, Any], asset: str, prefer_s3: bool = False) -> str:
    """Where to read an asset: its ``href``, or, when that is an ``s3://`` address
    (Copernicus Data Space's are) and no S3 credentials are at hand (``prefer_s3``), an
    http(s) address among its ``alternate`` hrefs (the alternate-assets extension)."""
    entry = item["assets"][asset]
    href = str(entry["href"])
    if href.startswith(("http://", "https://")) or (prefer_s3 and href.startswith("s3://")):
        return href
    for alternate in (entry.get("alternate") or {}).values():
        other = str(alternate.get("href", "")) if isinstance(alternate, Mapping) else ""
        if other.startswith(("http://", "https://")):
            return other
    return href


def gdal_path(href: str) -> str:
    """GDAL's name for an asset: HTTP(S) through /vsicurl/, ``s3://`` through /vsis3/,
    anything else as given."""
    if href.startswith(("http://", "https://")):
        return f"/vsicurl/{href}"
    if href.startswith("s3://"):
        return f"/vsis3/{href[len('s3://') :]}"
    return href


def shown(href: str) -> str:
    """An address for messages: without its query (a signature is a credential) and any
    user name and password."""
    return shown_url(href.split("?", 1)[0])
