"""The bad-input catalog: one test per kind of bad producer file, on a real day.

Each case spoils the real 2013-03-10 file (the spring daylight-saving day) after 2013-03-06..10
were published, runs the day through Dagster, and asserts: the failure (or the quarantine) names
the file, the partition, the column and the rule; the landing file is left byte for byte as
delivered; a blocked day keeps its published rows downstream; the code location still loads; and
once the corrected file is delivered, the day and its downstream are healthy again.
"""

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from polars.testing import assert_frame_equal

from feature_assets import cli
from feature_assets.lib import settings
from feature_assets.lib.demo import range_tags
from feature_assets.lib.gates import FRESHNESS
from feature_assets.lib.landing import FLIGHTS_SCHEMA, daily_file
from feature_assets.lib.replay import delivery_time
from feature_assets.lib.resources import build_resources
from feature_assets_tests.conftest import ALL_ASSETS, deliver, read_table

DAY = dt.date(2013, 3, 10)
FIRST = DAY - dt.timedelta(days=4)
PARTITION = DAY.isoformat()
PUBLISHED = {
    "cleansing.flights_clean": "flight_id",
    "transformation.flight_features": "flight_id",
    "aggregation.carrier_daily_stats": "flight_date, carrier",
    "aggregation.carrier_delay_7d": "flight_date, carrier",
}
COLUMNS = FLIGHTS_SCHEMA.names()
HELD_BACK = {
    "flights": [
        "cleansing/flights_clean | 2013-03-10",
        "transformation/flight_features | 2013-03-10",
        "aggregation/carrier_delay_7d | 2013-03-10..2013-03-16 (7)",
        "aggregation/route_delay_28d | 2013-03-10..2013-04-06 (28)",
    ],
    "weather": [
        "cleansing/weather_clean | 2013-03-10",
        "transformation/flight_features | 2013-03-10",
        "aggregation/origin_weather_daily | 2013-03-10",
    ],
}


def edit_first_row(**values: str) -> Callable[[bytes], bytes]:
    """Change named fields of the first data row."""

    def spoil(data: bytes) -> bytes:
        header, first, *rest = data.decode().split("\n")
        fields = first.split(",")
        for name, value in values.items():
            fields[COLUMNS.index(name)] = value
        return "\n".join([header, ",".join(fields), *rest]).encode()

    return spoil


def per_line(change: Callable[[int, list[str]], list[str]]) -> Callable[[bytes], bytes]:
    """Apply ``change(line_number, fields)`` to every line (the header is line 0)."""

    def spoil(data: bytes) -> bytes:
        lines = data.decode().rstrip("\n").split("\n")
        return (
            "\n".join(",".join(change(i, line.split(","))) for i, line in enumerate(lines)) + "\n"
        ).encode()

    return spoil


def drop_column(name: str) -> Callable[[bytes], bytes]:
    index = COLUMNS.index(name)
    return per_line(lambda _i, fields: fields[:index] + fields[index + 1 :])


def blank_column(name: str) -> Callable[[bytes], bytes]:
    index = COLUMNS.index(name)
    return per_line(
        lambda i, fields: fields if i == 0 else [*fields[:index], "NA", *fields[index + 1 :]]
    )


def burst(times: int) -> Callable[[bytes], bytes]:
    """Every flight ``times`` times, with new flight numbers: a producer's runaway loop."""

    def spoil(data: bytes) -> bytes:
        header, *rows = data.decode().rstrip("\n").split("\n")
        flight = COLUMNS.index("flight")
        copies = [
            ",".join(
                f if j != flight else str(int(f) + 10000 * k) for j, f in enumerate(row.split(","))
            )
            for k in range(times)
            for row in rows
        ]
        return ("\n".join([header, *copies]) + "\n").encode()

    return spoil


@dataclass(frozen=True)
class Fault:
    kind: str
    spoil: Callable[[bytes], bytes] | None  # None: the file is not delivered
    outcome: str  # "blocked": the run fails and the day is held; "quarantined": bad rows set aside
    says: list[str] = field(default_factory=list)  # what the failure or the quarantine must name
    source: str = "flights"


FAULTS = [
    Fault(
        "renamed_column",
        lambda d: d.replace(b"dep_delay", b"departure_delay", 1),
        "blocked",
        ["missing columns ['dep_delay']", "unexpected columns ['departure_delay']", "header"],
    ),
    Fault("dropped_column", drop_column("tailnum"), "blocked", ["missing columns ['tailnum']"]),
    Fault(
        "extra_column",
        per_line(lambda i, f: [*f, "gate" if i == 0 else "B22"]),
        "blocked",
        ["unexpected columns ['gate']"],
    ),
    Fault(
        "wrong_dtype",
        edit_first_row(dep_delay="late"),
        "blocked",
        ["could not parse `late` as dtype `i32` at column 'dep_delay'"],
    ),
    Fault("null_key", edit_first_row(carrier="NA"), "quarantined", ["carrier_not_null", "carrier"]),
    Fault(
        "duplicate_row",
        lambda d: d + d.split(b"\n")[1] + b"\n",
        "quarantined",
        ["unique_key", "flight_id"],
    ),
    Fault(
        "out_of_range",
        edit_first_row(dep_delay="99999"),
        "quarantined",
        ["dep_delay_in_range", "dep_delay", '"dep_delay":99999'],
    ),
    Fault(
        "unknown_carrier_code",
        edit_first_row(carrier="ZZ"),
        "quarantined",
        ["carrier_known", "carrier", '"carrier":"ZZ"'],
    ),
    Fault("unknown_origin_code", edit_first_row(origin="XYZ"), "quarantined", ["origin_known"]),
    Fault(
        "negative_flight_number",  # a rule built from the flights_clean contract
        edit_first_row(flight="-1"),
        "quarantined",
        ["flight_greater_than_or_equal_to", "flight must be >= 0", '"flight":-1'],
    ),
    Fault(
        "wrong_time_zone",
        edit_first_row(time_hour="2013-03-10T05:00:00Z"),
        "quarantined",
        ["time_hour_matches_local", "time_hour"],
    ),
    Fault(
        "daylight_saving_gap",
        edit_first_row(
            sched_dep_time="230", hour="2", minute="30", time_hour="2013-03-10T07:00:00Z"
        ),
        "quarantined",
        ["local_time_exists", "sched_dep_time"],
    ),
    Fault("empty_file", lambda _d: b"", "blocked", ["file is empty"]),
    Fault("truncated_file", lambda d: d[: len(d) // 2], "blocked", ["file is truncated"]),
    Fault(
        "corrupt_file",
        lambda d: d[:4000] + b"\x00\x01,,garbage\n" + d[4000:],
        "blocked",
        [
            "cannot be read with the producer contract",
            "could not parse",
            "as dtype `i32` at column",
        ],
    ),
    Fault(
        "not_utf8", lambda d: d[:3000] + b"\xe9" + d[3000:], "blocked", ["invalid utf-8 sequence"]
    ),
    Fault(
        "date_outside_file_day",
        edit_first_row(day="11"),
        "quarantined",
        ["date_matches_file", "year,month,day"],
    ),
    Fault("missing_day", None, "blocked", ["file is missing"]),
    Fault("late_weather", None, "blocked", ["file is missing", "weather"], source="weather"),
    Fault("volume_burst", burst(3), "blocked", ["ingestion/raw_flights", "outside [0.5, 2.0]"]),
    Fault(
        "emptied_column",
        blank_column("dep_delay"),
        "blocked",
        ["column dep_delay is 100.0% null, over the limit 90%"],
    ),
]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the real 2013-03-06..10 published through every tier."""
    home = tmp_path_factory.mktemp("published")
    deliver(home, FIRST, 5)
    with dg.instance_for_test() as instance:
        dg.materialize(
            ALL_ASSETS,
            resources=build_resources(home),
            instance=instance,
            tags=range_tags(FIRST, DAY),
        )
    return home


def run_day(
    home: Path, instance: dg.DagsterInstance, source: str | None = None
) -> dg.ExecuteInProcessResult:
    """The day through every tier; with a ``source``, through what reads it (no training set)."""
    selection = (
        dg.AssetSelection.assets(dg.AssetKey(["ingestion", f"raw_{source}"])).downstream()
        - dg.AssetSelection.groups("training")
        if source
        else None
    )
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        resources=build_resources(home),
        instance=instance,
        tags=range_tags(DAY, DAY),
        raise_on_error=False,
    )


def what_it_said(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure and failed check of a run, as one text."""
    said = []
    for event in result.all_events:
        if event.is_step_failure:
            failure = event.step_failure_data
            said.append(str(failure.error))
            if failure.user_failure_data:
                said.append(str(failure.user_failure_data.metadata))
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                said.append(f"{evaluation.description} {evaluation.metadata}")
    return "\n".join(said)


def the_day(home: Path, table: str, key: str) -> pl.DataFrame:
    return read_table(home, table, key).filter(pl.col("flight_date") == DAY)


@pytest.mark.parametrize(
    "fault",
    [
        # two halves of the catalog on two test workers, each publishing the five days once
        pytest.param(fault, id=fault.kind, marks=pytest.mark.xdist_group(f"bad_inputs_{i % 2}"))
        for i, fault in enumerate(FAULTS)
    ],
)
def test_bad_input_is_stopped_named_and_healed(
    fault: Fault, published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    shutil.copytree(published, home)
    monkeypatch.setenv(settings.HOME_ENV_VAR, str(home))
    before = {table: the_day(home, table, key) for table, key in PUBLISHED.items()}
    path = daily_file(settings.landing_dir(home), fault.source, DAY)
    good = path.read_bytes()
    if fault.spoil is None:
        path.unlink()
    else:
        path.write_bytes(fault.spoil(good))
    delivered = path.read_bytes() if path.exists() else None

    with dg.instance_for_test() as instance:
        result = run_day(home, instance, fault.source)
        said = what_it_said(result)
        if fault.outcome == "blocked":
            assert not result.success
            assert PARTITION in said
            assert str(path) in said
            for table, key in PUBLISHED.items():  # the day keeps its published rows
                assert_frame_equal(the_day(home, table, key), before[table])
            # ... and the gate says what it held back downstream, through the partition mappings
            assert "Held back:" in said
            held = HELD_BACK[fault.source]
            assert all(f"| {line} |" in said for line in held), said
        else:
            assert result.success, said
            quarantine = read_table(home, "cleansing.flights_quarantine", "rule").filter(
                pl.col("landing_date") == DAY
            )
            assert quarantine.height == 1
            said = " ".join(str(v) for v in quarantine.row(0))
            assert str(path) in said
            clean = the_day(home, "cleansing.flights_clean", "flight_id")
            assert clean.height == before["cleansing.flights_clean"].height - (
                fault.kind != "duplicate_row"
            )
        for words in fault.says:
            assert words in said, said
        # The pipeline never rewrites a landing file; the code location still loads.
        assert (path.read_bytes() if path.exists() else None) == delivered
        assert cli.main(["validate"]) == 0

        path.write_bytes(good)  # the producer delivers the corrected file
        healed = run_day(home, instance, fault.source)
        assert healed.success, what_it_said(healed)
        for table, key in PUBLISHED.items():
            assert_frame_equal(the_day(home, table, key), before[table])


@pytest.mark.xdist_group("bad_inputs_0")
def test_the_same_day_delivered_twice_changes_nothing(published: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(published, home)
    before = {table: read_table(home, table, key) for table, key in PUBLISHED.items()}
    deliver(home, DAY, 1)  # the producer sends the same day again
    with dg.instance_for_test() as instance:
        assert run_day(home, instance).success
    for table, key in PUBLISHED.items():
        assert_frame_equal(read_table(home, table, key), before[table])


def freshness_of(result: dg.ExecuteInProcessResult) -> dict[str, AssetCheckEvaluation]:
    """The freshness results of a run, by source."""
    return {
        e.asset_check_evaluation_data.asset_key.path[-1]: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == FRESHNESS
    }


@pytest.mark.xdist_group("bad_inputs_1")
def test_a_late_day_is_flagged_and_still_published(published: Path, tmp_path: Path) -> None:
    """A correct file that arrives two days after its deadline: flagged by name, not refused."""
    home = tmp_path / "home"
    shutil.copytree(published, home, copy_function=shutil.copy2)  # keep the arrival times
    path = daily_file(settings.landing_dir(home), "flights", DAY)
    before = {table: the_day(home, table, key) for table, key in PUBLISHED.items()}
    with dg.instance_for_test() as instance:
        on_time = freshness_of(run_day(home, instance))
        assert on_time["raw_flights"].passed and on_time["raw_weather"].passed
        assert on_time["raw_flights"].metadata["hours_late"].value == 0

        late = delivery_time(DAY, dt.timedelta(hours=54))  # 48 h past the 6 h lag
        os.utime(path, (late.timestamp(), late.timestamp()))
        delivered = path.read_bytes()
        result = run_day(home, instance)

    assert result.success  # a late file holds correct data: WARN, published
    flights = freshness_of(result)["raw_flights"]
    assert not flights.passed
    assert flights.severity == dg.AssetCheckSeverity.WARN
    assert flights.metadata["hours_late"].value == 48.0
    assert flights.description == (
        f"ingestion/raw_flights partition {PARTITION} (file {path}): arrived 2013-03-13 06:00 EDT, "
        "48.0 h after its deadline 2013-03-11 06:00 (the day's end + 6 h)"
    )
    assert freshness_of(result)["raw_weather"].passed
    assert path.read_bytes() == delivered
    for table, key in PUBLISHED.items():
        assert_frame_equal(the_day(home, table, key), before[table])
