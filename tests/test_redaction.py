"""Credentials written into a STAC_URL (user and password, a token in the query) and
signatures of asset addresses never reach outputs, log lines or messages; the requests
still carry them."""

from __future__ import annotations

import pytest
from test_timeseries import options, point_layer

from sits_qgis.errors import SitsError
from sits_qgis.redact import shown_url, without_queries
from sits_qgis.stac.catalogues import resolve_catalogue
from sits_qgis.stac.client import open_catalogue
from sits_qgis.timeseries.planning import plan_run, table_target

SECRETS = ("hunter2", "tok-123", "sig-456")


def test_shown_addresses_hide_user_password_and_secret_parameters():
    user = "https://alice:hunter2@stac.example.org"  # pragma: allowlist secret
    url = f"{user}/v1?token=tok-123&collections=s2"
    assert shown_url(url) == "https://***@stac.example.org/v1?token=***&collections=s2"
    gdal = "HTTP response code on https://blob.example/a/b.tif?se=2026&sig=sig-456: 403"
    assert without_queries(gdal) == "HTTP response code on https://blob.example/a/b.tif: 403"


def test_a_run_with_credentials_in_its_url_shows_none_of_them(sample_stac):
    served, _ = sample_stac
    url = served.stac_urls["earth-search"].replace("http://", "http://alice:hunter2@")
    url += "/?token=tok-123"
    opts = options(url, indices=("NDVI",))
    plan = plan_run(point_layer(), opts, 0.0, table_target)
    assert plan.search.items  # the requests were made with the address as given
    shown = " ".join([*plan.notes, plan.search.summary(), str(opts.provenance())])
    assert "has no profile" in shown  # a note names the catalogue
    assert not any(secret in shown for secret in SECRETS)
    assert "***@" in str(opts.provenance()["stac_url"])


def test_a_refusal_message_shows_no_credentials():
    url = "http://alice:hunter2@127.0.0.1:9/v1?token=tok-123"  # pragma: allowlist secret
    with pytest.raises(SitsError) as caught:
        open_catalogue(resolve_catalogue(url))
    assert "Cannot reach the STAC API at http://***@127.0.0.1:9/v1" in str(caught.value)
    assert not any(secret in str(caught.value) for secret in SECRETS)
