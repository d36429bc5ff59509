"""`dagster dev` as a person runs it, for tests: a temporary instance and data directory.

The server runs from the repository (``dagster dev -w workspace.yaml -h 127.0.0.1``) with
``DAGSTER_HOME`` set to a temporary folder holding the repository's dagster.yaml minus its
storage sections, so that its run history and logs stay in that folder and not in ./data, and
``FEATURE_ASSETS_HOME`` set to another temporary folder. It is stopped with SIGTERM to its
process group (webserver, daemon, code server).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from feature_assets.lib import settings

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
WAIT_SECONDS = 90
LOCATION = "feature_assets"

LOCATIONS_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""

SENSORS_QUERY = """
{
  sensorsOrError(
    repositorySelector: {repositoryLocationName: "feature_assets", repositoryName: "__repository__"}
  ) {
    __typename
    ... on Sensors {
      results {
        name
        sensorState { status ticks(limit: 200) { status timestamp error { message } } }
      }
    }
    ... on PythonError { message }
  }
}
"""

RUNS_QUERY = """
{
  runsOrError {
    __typename
    ... on Runs { results { runId status endTime tags { key value } assetSelection { path } } }
    ... on PythonError { message }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(tmp_path: Path) -> dict[str, str]:
    """This process's environment with DAGSTER_HOME and FEATURE_ASSETS_HOME in ``tmp_path``.

    DAGSTER_HOME holds the repository's dagster.yaml without its storage sections: the defaults
    keep run history, event logs and compute logs under DAGSTER_HOME, not in ./data.
    """
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    for section in ("storage", "local_artifact_storage", "compute_logs"):
        config.pop(section, None)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "home"
    home.mkdir()
    return {**os.environ, "DAGSTER_HOME": str(dagster_home), settings.HOME_ENV_VAR: str(home)}


def default_signals() -> None:
    """In the child: SIGINT and SIGTERM back to their defaults (an inherited "ignore" survives
    exec, and `dagster dev` would then ignore SIGTERM)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class NotYet(str):
    """Why something has not happened yet: falsy for ``Server.wait_for``, shown on timeout."""

    def __bool__(self) -> bool:
        return False


class Server:
    """A running `dagster dev` and its combined output."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        url: str,
        log: Path,
        dagster_home: Path,
        home: Path,
    ):
        self.process = process
        self.url = url
        self.log = log
        self.dagster_home = dagster_home
        self.home = home

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def graphql(self, query: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_for(
        self, what: str, ready: Any, seconds: float = WAIT_SECONDS, every: float = 0.5
    ) -> Any:
        """Call ``ready()`` every ``every`` s until it returns something truthy; fail after
        ``seconds``."""
        deadline = time.monotonic() + seconds
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"dagster dev exited ({self.process.returncode}) before {what}:\n"
                    + self.output()
                )
            try:
                result = ready()
                if result:
                    return result
                last = result
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                last = error
            time.sleep(every)
        pytest.fail(f"no {what} within {seconds}s (last: {last!r}):\n{self.output()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (webserver, daemon, code server), then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    try:  # children left behind by a process that is gone already
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def serve(env: Mapping[str, str], log: Path) -> Iterator[Server]:
    """`dagster dev` from the repository on a free port of 127.0.0.1, stopped at the end."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_signals,
        )
    try:
        yield Server(
            process,
            f"http://127.0.0.1:{port}",
            log,
            Path(env["DAGSTER_HOME"]),
            Path(env[settings.HOME_ENV_VAR]),
        )
    finally:
        stop(process)


def loaded_location(server: Server) -> dict[str, Any] | None:
    """The code location's entry once it is LOADED (None before)."""
    workspace = server.graphql(LOCATIONS_QUERY)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", workspace
    entries = {entry["name"]: entry for entry in workspace["locationEntries"]}
    if entries.get(LOCATION, {}).get("loadStatus") != "LOADED":
        return None
    assert set(entries) == {LOCATION}, entries  # workspace.yaml's one code location
    return entries[LOCATION]


def tags_of(entry: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in entry["tags"]}


def sensors(server: Server) -> dict[str, dict[str, Any]]:
    """Each sensor of the code location: its status and its ticks, newest first."""
    answer = server.graphql(SENSORS_QUERY)["sensorsOrError"]
    assert answer["__typename"] == "Sensors", answer
    return {sensor["name"]: sensor["sensorState"] for sensor in answer["results"]}


def runs(server: Server) -> list[dict[str, Any]]:
    answer = server.graphql(RUNS_QUERY)["runsOrError"]
    assert answer["__typename"] == "Runs", answer
    return answer["results"]
