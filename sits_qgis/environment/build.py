"""Make the engine environment: a virtual environment with the shipped, hash-pinned lock.

Made with the Python that runs QGIS (``base_python``), without the system's packages,
in a temporary folder next to the destination and renamed when complete: a failed or
cancelled set-up leaves the previous environment as it was. pip installs only wheels
whose hashes the lock lists (``--require-hashes``), from the package index (through
the proxy QGIS uses) or from a wheelhouse folder or zip with the network unused
(``--no-index``); TLS checks are pip's own, never turned off. Every failure is said in
the user's terms: which package, which folder, what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..backend.interpreter import base_python
from ..errors import Cancelled, SitsError
from ..progress import Progress
from .layout import (
    LOCK,
    environment_dir,
    environment_python,
    lock_digest,
    write_stamp,
)
from .probe import probe

Log = Callable[[str], None]

#: pip's words for a network that cannot be reached.
NETWORK_FAILURES = (
    "ProxyError",
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "SSLError",
)


class SetupError(SitsError):
    """The set-up failed; the message says why and what to do."""


def _lock_pins(lock: Path) -> list[str]:
    """``name==version`` of every package of the lock."""
    pins = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+==[^\s;\\]+)", line.strip())
        if match:
            pins.append(match.group(1))
    return pins


def explain_pip_failure(lines: list[str], wheelhouse: str | None, folder: Path) -> str:
    """pip's failure in the user's terms."""
    text = "\n".join(lines)
    if "No space left on device" in text or "Errno 28" in text:
        return (
            f"The disk holding {folder} is full: free some space (the engine takes about"
            " 1 GB) or choose another folder."
        )
    if "DO NOT MATCH THE HASHES" in text or "do not match the hashes" in text.lower():
        names = re.findall(r"^\s*(\S+==\S+) from ", text, re.MULTILINE)
        which = f" ({', '.join(names)})" if names else ""
        return (
            f"A downloaded file does not match the hash in the plugin's lock{which}: it was"
            " refused and nothing was installed. The file was altered or is not the one"
            " the plugin was tested with; check the wheelhouse or the network (proxy)."
        )
    missing = re.findall(r"No matching distribution found for ([^\s]+)", text) or re.findall(
        r"Could not find a version that satisfies the requirement ([^\s]+)", text
    )
    network = [n for n in NETWORK_FAILURES if n in text]
    if wheelhouse and missing:
        return (
            f"The wheelhouse {wheelhouse} has no file of {', '.join(sorted(set(missing)))}"
            " for this Python and platform: build it again with 'make wheelhouse' on a"
            " machine like this one, or set up from the package index."
        )
    if network:
        return (
            "The package index cannot be reached (pip said: "
            f"{network[0]}). Check the network connection and QGIS's proxy settings"
            " (Settings > Options > Network), or set up from a wheelhouse."
        )
    if missing:
        return (
            f"The package index has no {', '.join(sorted(set(missing)))} for this Python"
            " and platform."
        )
    tail = [line for line in lines if line.strip()][-4:]
    return "pip failed: " + " | ".join(tail)


def explain_venv_failure(output: str, python: str) -> str:
    """Why ``python -m venv`` failed, in the user's terms."""
    if "ensurepip" in output or "No module named venv" in output:
        version = re.search(r"python(\d\.\d+)", python)
        package = f"python{version.group(1)}-venv" if version else "python3-venv"
        return (
            f"{python} cannot make virtual environments (its venv/ensurepip modules are"
            f" missing). On Debian or Ubuntu install the package {package}"
            f" (sudo apt install {package}); elsewhere use a Python with venv, or point"
            " the settings at an existing environment."
        )
    if "No space left on device" in output:
        return "The disk is full: free some space or choose another folder."
    return f"{python} -m venv failed: " + " | ".join(output.strip().splitlines()[-4:])


def _run(
    command: list[str],
    log: Log,
    is_cancelled: Callable[[], bool],
    env: dict[str, str] | None = None,
    on_line: Log | None = None,
) -> tuple[int, list[str]]:
    """Run ``command``, logging its output line by line; killed on cancel."""
    kwargs = {"start_new_session": True} if os.name != "nt" else {
        "creationflags": subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
    }  # fmt: skip
    # Python -m venv / pip, no shell.
    process = subprocess.Popen(  # nosec B603
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        **kwargs,
    )
    lines: list[str] = []
    if process.stdout is None:  # never: stdout is a pipe (this narrows its type)
        raise SetupError("pip's output could not be read.")

    def read() -> None:
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            lines.append(line)
            log(line)
            if on_line is not None:
                on_line(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while process.poll() is None:
            if is_cancelled():
                if os.name == "nt":
                    process.kill()
                else:
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise Cancelled()
            time.sleep(0.1)
    finally:
        reader.join(10)
        process.stdout.close()
    return process.returncode, lines


def _pip_environment(proxy: str) -> dict[str, str]:
    """pip's environment: QGIS's, without its Python paths, with QGIS's proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if proxy:  # through the environment, so a password in it is not on a command line
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = proxy
    return env


def build_environment(
    folder: str | Path,
    *,
    wheelhouse: str | None = None,
    proxy: str = "",
    python: str | None = None,
    lock: Path = LOCK,
    log: Log = print,
    progress: Progress = lambda _: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> Path:
    """Make (or replace) the engine environment for this Python in ``folder``; returns
    its interpreter. Raises ``SetupError`` or ``Cancelled``; the previous environment,
    if any, is untouched unless the new one is complete."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".setup-", dir=folder))
    except OSError as exc:
        raise SetupError(f"The folder {folder} cannot be written: {exc}", "FOLDER") from None
    target = environment_dir(folder)
    try:
        python = python or base_python()
        if not Path(python).is_file():
            raise SetupError(
                f"There is no Python at {python} to make the engine's environment with:"
                " install Python (the one QGIS runs), or point the settings at an existing"
                " environment."
            )
        pins = _lock_pins(lock)
        log(f"Making a virtual environment with {python} (lock: {len(pins)} packages)…")
        new = work / target.name
        code, lines = _run([python, "-m", "venv", str(new)], log, is_cancelled)
        if code != 0:
            raise SetupError(explain_venv_failure("\n".join(lines), python))
        progress(5.0)
        env_python = str(environment_python(new))
        pip_log = folder / "pip.log"
        command = [
            env_python, "-m", "pip", "install", "--require-hashes", "--only-binary=:all:",
            "--no-input", "--progress-bar", "off", "--log", str(pip_log),
            "-r", str(lock),
        ]  # fmt: skip
        if wheelhouse:
            command += ["--no-index", "--find-links", str(_wheel_folder(wheelhouse, work))]
            log(f"Installing from the wheelhouse {wheelhouse} (the network is not used)…")
        else:
            log("Installing from the package index" + (" through the proxy" if proxy else "") + "…")
        seen = {"collected": 0}

        def count(line: str) -> None:
            if line.startswith(("Collecting ", "Processing ")):
                seen["collected"] += 1
                progress(5.0 + 60.0 * min(seen["collected"], len(pins)) / max(len(pins), 1))
            elif line.startswith("Installing collected packages"):
                progress(70.0)

        pip_log.unlink(missing_ok=True)  # pip appends: keep this set-up's only
        code, lines = _run(command, log, is_cancelled, _pip_environment(proxy), count)
        if code != 0:  # pip's log has the network errors its output leaves out
            said = pip_log.read_text("utf-8", "replace").splitlines() if pip_log.is_file() else []
            raise SetupError(explain_pip_failure(lines + said[-400:], wheelhouse, folder))
        progress(90.0)
        log("Checking the new environment (importing every package)…")
        report = probe(env_python)
        if not report.ok:
            raise SetupError(f"The new environment does not work: {report.summary()}")
        write_stamp(
            new,
            {
                "lock_sha256": lock_digest(lock),
                "python": report.python,
                "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "source": "wheelhouse" if wheelhouse else "package index",
                "versions": report.versions,
            },
        )
        _swap(new, target, work)
        progress(100.0)
        log(f"The engine environment is ready: {target} ({report.summary()})")
        return environment_python(target)
    except SetupError:
        raise
    except SitsError as exc:  # no Python found for the environment (base_python)
        raise SetupError(str(exc), exc.parameter) from None
    except OSError as exc:
        if exc.errno == 28:
            raise SetupError(explain_pip_failure([str(exc)], wheelhouse, folder)) from None
        raise SetupError(f"The set-up failed in {folder}: {exc}", "FOLDER") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _wheel_folder(wheelhouse: str, work: Path) -> Path:
    """The wheelhouse as a folder (a zip is unpacked into the set-up's work folder)."""
    path = Path(wheelhouse).expanduser()
    if path.is_dir():
        return path
    if path.is_file() and zipfile.is_zipfile(path):
        out = work / "wheelhouse"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(out)
        wheels = {p.parent for p in out.rglob("*.whl")}
        return next(iter(wheels)) if len(wheels) == 1 else out
    raise SetupError(
        f"The wheelhouse {wheelhouse} is neither a folder nor a zip of wheels.", "WHEELHOUSE"
    )


def _swap(new: Path, target: Path, work: Path) -> None:
    """Put the complete environment in place of the previous one (two renames)."""
    old = work / "previous"
    if target.exists():
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)  # put the previous one back
        raise
