"""Addresses as they may be shown: without the credentials some users write into them.

A STAC API address may carry a user name and password (``user:password@`` before the
host) or
a token in its query (``?token=...``), and GDAL's messages repeat signed asset
addresses (``?se=...&sig=...``). What reaches an output, a log line or a message goes
through ``shown_url`` or ``without_queries``; the full address is only ever used to
make the request.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters whose values are secrets (compared without case): tokens, keys,
#: passwords, and the signature fields of Azure SAS and AWS presigned addresses.
SECRET_PARAMETERS = frozenset({
    "token", "access_token", "api_key", "apikey", "key", "subscription-key", "password",
    "pass", "pwd", "secret", "sig", "signature", "x-amz-signature", "x-amz-credential",
    "x-amz-security-token", "auth", "authorization",
})  # fmt: skip
HIDDEN = "***"
#: A secret parameter's value, or a user and password, anywhere in a message.
SECRET_VALUE = re.compile(
    r"(?i)(?<![\w-])("
    + "|".join(re.escape(p) for p in sorted(SECRET_PARAMETERS))
    + r")=[^&\s'\")]+"
)
USERINFO = re.compile(r"//[^/\s@'\"]+@")
#: A query string in an address of a message.
QUERY = re.compile(r"(https?://[^\s?]+)\?\S*?(?=: |[\s'\")]|$)")


def shown_url(url: str) -> str:
    """``url`` with any user name and password, and the values of secret query
    parameters, replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = urlencode(
        [(k, HIDDEN if k.lower() in SECRET_PARAMETERS else v)
         for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*",
    )  # fmt: skip
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def without_queries(text: str) -> str:
    """A message with the query strings of the addresses it names removed (GDAL repeats
    signed addresses in its errors)."""
    return QUERY.sub(r"\1", text).strip()


def scrubbed(text: str) -> str:
    """Any message (an exception's text, a library's error) with user names, passwords
    and secret parameters' values replaced by ``***``."""
    return USERINFO.sub(f"//{HIDDEN}@", SECRET_VALUE.sub(rf"\1={HIDDEN}", text))
