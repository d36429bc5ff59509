"""`dagster dev` serves the code location of workspace.yaml, and its definitions validate.

The server runs as it does for a person (``dagster dev -w workspace.yaml`` from the repository),
with ``DAGSTER_HOME`` set to a temporary folder holding the repository's dagster.yaml minus its
storage sections, so its run history and logs stay in that folder and not in ./data; and
``FEATURE_ASSETS_HOME`` set to another temporary folder.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from feature_assets.lib import settings
from feature_assets.lib.warehouse import DUCKDB_POOL
from feature_assets_tests.conftest import PUBLIC_TABLES, SNAPSHOTS

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

INSTANCE_QUERY = "{ instance { info runQueuingSupported } }"

ASSET_NODES_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    pools
    jobNames
    repository { location { name } }
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


class Server:
    """A running `dagster dev` and its combined output."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path, dagster_home: Path):
        self.process = process
        self.url = url
        self.log = log
        self.dagster_home = dagster_home

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

    def wait_for(self, what: str, ready: Any) -> Any:
        """Call ``ready()`` until it returns something truthy; fail after WAIT_SECONDS."""
        deadline = time.monotonic() + WAIT_SECONDS
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
            time.sleep(0.5)
        pytest.fail(f"no {what} within {WAIT_SECONDS}s (last: {last!r}):\n{self.output()}")


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


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[Server]:
    """`dagster dev` from the repository on a free port, stopped (process group) at the end."""
    env = environment(tmp_path)
    port = free_port()
    log = tmp_path / "dagster_dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_signals,
        )
    try:
        yield Server(process, f"http://127.0.0.1:{port}", log, Path(env["DAGSTER_HOME"]))
    finally:
        stop(process)


def loaded_location(server: Server) -> dict[str, Any] | None:
    workspace = server.graphql(LOCATIONS_QUERY)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", workspace
    entries = {entry["name"]: entry for entry in workspace["locationEntries"]}
    if entries.get(LOCATION, {}).get("loadStatus") != "LOADED":
        return None
    assert set(entries) == {LOCATION}, entries  # workspace.yaml's one code location
    return entries[LOCATION]


def test_dagster_dev_serves_every_asset_in_its_tier(dagster_dev: Server) -> None:
    def server_info() -> dict[str, Any]:
        with urllib.request.urlopen(f"{dagster_dev.url}/server_info", timeout=5) as response:
            return json.loads(response.read())

    info = dagster_dev.wait_for("/server_info", server_info)
    assert info["dagster_version"] == dg.__version__
    assert info["dagster_webserver_version"] == dg.__version__
    entry = dagster_dev.wait_for("a LOADED code location", lambda: loaded_location(dagster_dev))
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry

    # The server's instance is the temporary DAGSTER_HOME with the repository's settings.
    instance = dagster_dev.graphql(INSTANCE_QUERY)["instance"]
    settings_served = yaml.safe_load(instance["info"])
    base_dir = settings_served["local_artifact_storage"]["config"]["base_dir"]
    assert Path(base_dir) == dagster_dev.dagster_home
    assert settings_served["concurrency"]["pools"] == {"default_limit": 1}
    assert instance["runQueuingSupported"] is True

    nodes = dagster_dev.graphql(ASSET_NODES_QUERY)["assetNodes"]
    served = {tuple(node["assetKey"]["path"]): node for node in nodes}
    expected = {(tier, name) for tier, names in PUBLIC_TABLES.items() for name in names}
    assert set(served) == expected
    for key, node in served.items():
        assert node["groupName"] == key[0], key
        assert node["repository"]["location"]["name"] == LOCATION
        assert node["pools"] == [DUCKDB_POOL], key
        assert node["isPartitioned"] == (key[1] not in SNAPSHOTS), key
        assert "main" in node["jobNames"], key


def test_definitions_validate(tmp_path: Path) -> None:
    # With DAGSTER_HOME set, the command loads that instance (the repository's settings) instead
    # of making a temporary .tmp_dagster_home_* folder in the repository.
    result = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location feature_assets." in output, output
