"""AUTHCFG read from QGIS's real authentication store: Basic and API Header give HTTP
headers, AWS S3 gives the keys GDAL signs s3:// reads with; an unknown configuration
and an unsupported method are said, naming AUTHCFG."""

from __future__ import annotations

import base64

import pytest
from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsProcessingException

MASTER = "sits-tests-master-password"


@pytest.fixture(scope="module")
def auth(loaded_plugin):
    manager = QgsApplication.authManager()
    if not manager.setMasterPassword(MASTER, True):
        pytest.skip("this QGIS profile's authentication database has another master password")
    stored = []

    def store(method: str, values: dict[str, str]) -> str:
        config = QgsAuthMethodConfig(method)
        config.setName(f"sits test {method}")
        for key, value in values.items():
            config.setConfig(key, value)
        ok = manager.storeAuthenticationConfig(config)
        assert ok is True or ok[0], method  # QGIS 3.22 returns a bool, later a tuple
        stored.append(config.id())
        return config.id()

    yield store
    for config_id in stored:
        manager.removeAuthenticationConfig(config_id)


def test_each_method_gives_headers_or_s3_keys(auth):
    from sits_plugin.processing_provider.timeseries_base import auth_credentials

    basic = auth("Basic", {"username": "user", "password": "pass word"})
    token = base64.b64encode(b"user:pass word").decode()
    assert auth_credentials(basic) == {"headers": {"Authorization": f"Basic {token}"}, "s3": {}}
    header = auth("APIHeader", {"Authorization": "Bearer earthdata-token"})
    assert auth_credentials(header)["headers"] == {"Authorization": "Bearer earthdata-token"}
    s3 = auth("AWSS3", {"username": "AKIDTEST", "password": "secret", "region": "eu-central-1"})
    assert auth_credentials(s3) == {
        "headers": {},
        "s3": {"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
               "AWS_REGION": "eu-central-1"},
    }  # fmt: skip
    assert auth_credentials("") == {"headers": {}, "s3": {}}


def test_an_unknown_configuration_is_said(auth):
    from sits_plugin.processing_provider.timeseries_base import auth_credentials

    with pytest.raises(QgsProcessingException, match="AUTHCFG: the authentication configuration"):
        auth_credentials("nosuch1")
