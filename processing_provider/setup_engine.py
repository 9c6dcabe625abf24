"""``sits:setupengine``: make the engine environment from inside QGIS (or check one).

The dialog (Plugins > SITS > Set up the engine…) is this algorithm's own Processing
dialog, so the set-up runs as a background task with progress, pip's log and a working
cancel, and the same algorithm serves ``qgis_process`` and scripted roll-outs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputFolder,
    QgsProcessingOutputString,
    QgsProcessingParameterFile,
    QgsSettings,
)

from sits_qgis.engine.client import shutdown_session
from sits_qgis.environment.build import SetupError, build_environment
from sits_qgis.environment.layout import environment_dir
from sits_qgis.environment.probe import probe
from sits_qgis.errors import Cancelled

from . import engine, settings
from .base import SitsAlgorithm, help_text

HELP = help_text(
    """
Makes the environment the SITS engine runs in: a Python virtual environment of its own,
outside QGIS's Python, with the exact package versions the plugin was tested with
(checked against the hashes shipped with the plugin). It is made once per QGIS Python
version, takes about 500 MB and a minute or two, and is used by every later run.

<b>FOLDER</b>: where to make it (default: the QGIS profile's sits_engine folder); it is
remembered. <b>WHEELHOUSE</b> (optional): a folder or zip of wheels (make wheelhouse
builds one) to install from without the network; otherwise the packages come from the
Python Package Index, through QGIS's proxy settings.

<b>EXISTING_PYTHON</b> (optional): instead of making an environment, use an existing one
that already has the packages (a conda environment, a development venv): give its
python executable; it is checked and, if usable, remembered.

A failed or cancelled set-up leaves the previous environment as it was.
"""
)


def qgis_proxy() -> str:
    """QGIS's HTTP proxy (Settings > Options > Network) as a URL for pip, or empty."""
    values = QgsSettings()
    enabled = str(values.value("proxy/proxyEnabled", False)).lower() == "true"
    kind = str(values.value("proxy/proxyType", "") or "")
    host = str(values.value("proxy/proxyHost", "") or "")
    if not enabled or not host or kind in ("DefaultProxy", "NoProxy", "Socks5Proxy"):
        return ""  # the system's proxy (pip reads the same variables), or none pip can use
    port = str(values.value("proxy/proxyPort", "") or "")
    user = str(values.value("proxy/proxyUser", "") or "")
    password = str(values.value("proxy/proxyPassword", "") or "")
    login = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
    return f"http://{login}{host}" + (f":{port}" if port else "")


class SetupEngineAlgorithm(SitsAlgorithm):
    NAME = "setupengine"
    DISPLAY_NAME = "Set up the engine"
    GROUP = "Engine"
    GROUP_ID = "engine"
    HELP = HELP
    HELP_ANCHOR = "set-up-the-engine"
    NEEDS_ENGINE = False

    FOLDER = "FOLDER"
    WHEELHOUSE = "WHEELHOUSE"
    EXISTING_PYTHON = "EXISTING_PYTHON"

    def initAlgorithm(self, config: dict[str, Any] | None = None) -> None:
        self.addParameter(
            QgsProcessingParameterFile(
                self.FOLDER,
                self.tr("Folder for the engine environment"),
                QgsProcessingParameterFile.Behavior.Folder,
                defaultValue=settings.engine_folder(),
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.WHEELHOUSE,
                self.tr("Install from this folder (or zip) of wheels, without the network"),
                QgsProcessingParameterFile.Behavior.Folder,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterFile(
                self.EXISTING_PYTHON,
                self.tr("Or use the python executable of an existing environment"),
                QgsProcessingParameterFile.Behavior.File,
                optional=True,
                # "*" not QGIS's "*.*": python on Linux and macOS has no extension
                fileFilter="Python executable (python* python*.exe);;All files (*)",
            )
        )
        self.addOutput(QgsProcessingOutputString("PYTHON", self.tr("The engine's Python")))
        self.addOutput(QgsProcessingOutputFolder("ENVIRONMENT", self.tr("The environment")))

    def processAlgorithm(self, parameters: dict[str, Any], context: Any, feedback: Any) -> dict:
        existing = self.parameterAsFile(parameters, self.EXISTING_PYTHON, context)
        if existing:
            return self.use_existing(existing, feedback)
        folder = self.parameterAsFile(parameters, self.FOLDER, context) or settings.engine_folder()
        wheelhouse = self.parameterAsFile(parameters, self.WHEELHOUSE, context) or None
        proxy = "" if wheelhouse else qgis_proxy()
        shutdown_session()  # an engine running from the environment being replaced
        try:
            python = build_environment(
                folder,
                wheelhouse=wheelhouse,
                proxy=proxy,
                log=feedback.pushConsoleInfo,
                progress=feedback.setProgress,
                is_cancelled=engine.cancel_check(feedback),
            )
        except Cancelled:
            raise QgsProcessingException(
                "Cancelled: nothing was changed (the previous engine environment, if any,"
                " is still in place)."
            ) from None
        except SetupError as exc:
            where = f"{exc.parameter}: " if exc.parameter else ""
            raise QgsProcessingException(
                f"{where}{exc} Nothing was changed (the previous engine environment, if"
                " any, is still in place)."
            ) from None
        settings.remember_engine_folder(folder)
        if settings.engine_python():
            feedback.pushWarning(
                f"The settings name an existing environment ({settings.engine_python()}),"
                " which the engine uses instead of this one: clear 'the Python of an"
                " existing environment' in Processing options > Providers > SITS to use it."
            )
        feedback.pushInfo(f"The SITS engine is set up: {python}")
        return {"PYTHON": str(python), "ENVIRONMENT": str(environment_dir(folder))}

    def use_existing(self, python: str, feedback: Any) -> dict:
        """Check an existing environment and remember it if it is usable."""
        feedback.pushInfo(f"Checking {python} (importing every package the engine needs)…")
        report = probe(python)
        if not report.ok:
            raise QgsProcessingException(
                f"{self.EXISTING_PYTHON}: {python} cannot run the engine: {report.summary()}"
                " Install what is missing into it, or leave EXISTING_PYTHON empty to make"
                " an environment."
            )
        shutdown_session()
        settings.set_engine_python(python)
        feedback.pushInfo(f"The SITS engine will use {python}: {report.summary()}")
        return {"PYTHON": python, "ENVIRONMENT": ""}
