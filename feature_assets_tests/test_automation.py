"""Declarative automation without the daemon: the landing sensor and the automation condition,
evaluated tick by tick over a real instance, with every requested partition really run.

Three weeks of real days (2013-01-01..21) are published once; each test starts from a copy of that
data directory and that instance, changes the landing zone or the code, and asserts the exact
set of asset partitions automation requests until it has nothing left to do.
"""

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.event_api import AssetRecordsFilter
from dagster._core.instance.ref import InstanceRef

from feature_assets import cli
from feature_assets.definitions import defs
from feature_assets.defs.automation import landing_zone
from feature_assets.lib import settings
from feature_assets.lib.automation import BREAKER_THRESHOLD, open_partitions
from feature_assets.lib.demo import range_tags
from feature_assets.lib.landing import daily_file, snapshot_file
from feature_assets.lib.resources import build_resources
from feature_assets_tests.conftest import ALL_ASSETS, deliver, read_table, with_code_version

pytestmark = pytest.mark.xdist_group("automation")  # its tests share a module fixture: one worker

FIRST, LAST = dt.date(2013, 1, 1), dt.date(2013, 1, 21)
NEXT = LAST + dt.timedelta(days=1)
"""The day after the published ones: a first arrival."""
D = dt.date
Key = dg.AssetKey


def k(name: str) -> dg.AssetKey:
    """An asset key from its user string, e.g. ``cleansing/flights_clean``."""
    return dg.AssetKey.from_user_string(name)


def days(first: dt.date, last: dt.date) -> set[str]:
    return {str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)}


def expect(assets: dict[str, set[str]]) -> set[tuple[dg.AssetKey, str]]:
    return {(k(name), p) for name, partitions in assets.items() for p in partitions}


@dataclass
class World:
    """A data directory, an instance, and the cursors of the two sensors."""

    home: Path
    instance: dg.DagsterInstance
    defs: dg.Definitions = field(default_factory=lambda: defs)
    automation_cursor: Any = None
    landing_cursor: str | None = None
    said: list[str] = field(default_factory=list)

    def run(self, keys: set[dg.AssetKey], partitions: set[str]) -> dg.ExecuteInProcessResult:
        """Materialise ``keys`` over ``partitions`` (consecutive days) as one run."""
        first, last = min(partitions), max(partitions)
        assert days(D.fromisoformat(first), D.fromisoformat(last)) == partitions
        return dg.materialize(
            ALL_ASSETS,
            selection=list(keys),
            resources=build_resources(self.home),
            instance=self.instance,
            tags=range_tags(D.fromisoformat(first), D.fromisoformat(last)),
            raise_on_error=False,
        )

    def sense(self) -> set[tuple[dg.AssetKey, str | None]]:
        """One tick of the landing sensor; runs what it requests; returns the requests."""
        context = dg.build_sensor_context(cursor=self.landing_cursor, instance=self.instance)
        result = landing_zone(context)
        assert isinstance(result, dg.SensorResult)
        self.landing_cursor = result.cursor
        requested = set()
        for request in result.run_requests or []:
            (key,) = request.asset_selection or []
            span = request.partition_key_range
            first = span.start if span else request.partition_key
            last = span.end if span else request.partition_key
            if first is None:
                dg.materialize(
                    ALL_ASSETS,
                    selection=[key],
                    resources=build_resources(self.home),
                    instance=self.instance,
                )
                requested.add((key, None))
                continue
            assert last is not None
            partitions = days(D.fromisoformat(first), D.fromisoformat(last))
            self.run({key}, partitions)
            requested |= {(key, p) for p in partitions}
        return requested

    def tick(self, execute: bool = True) -> set[tuple[dg.AssetKey, str]]:
        """One automation evaluation; runs what it requests (grouped as a backfill would)."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.automation_cursor
        )
        self.automation_cursor = result.cursor
        requested: dict[dg.AssetKey, set[str]] = {}
        for r in result.results:
            if r.true_subset.size and isinstance(r.key, dg.AssetKey):
                requested[r.key] = set(r.true_subset.expensively_compute_partition_keys())
        self.said += [
            f"{r.key.to_user_string()}: {value}"
            for r in result.results
            for child in _walk(r)
            for name, value in (child.serializable_evaluation.metadata or {}).items()
            if name == "breaker_open"
        ]
        if execute:
            # a multi-asset's outputs run together; otherwise one run per asset and range
            groups: dict[frozenset[str], set[dg.AssetKey]] = {}
            for key, partitions in requested.items():
                groups.setdefault(frozenset(partitions), set()).add(key)
            order = sorted(groups.items(), key=lambda g: _tier(next(iter(g[1]))))
            for partitions, keys in order:
                for span in _spans(set(partitions)):
                    self.run(keys, span)
        return {(key, p) for key, ps in requested.items() for p in ps}

    def settle(self, ticks: int = 6) -> set[tuple[dg.AssetKey, str]]:
        """Tick until automation requests nothing; everything it requested on the way."""
        everything: set[tuple[dg.AssetKey, str]] = set()
        for _ in range(ticks):
            requested = self.tick()
            if not requested:
                return everything
            everything |= requested
        raise AssertionError(f"automation still requesting after {ticks} ticks")


def _walk(result):
    yield result
    for child in result.child_results:
        yield from _walk(child)


def _tier(key: dg.AssetKey) -> int:
    return ["ingestion", "cleansing", "transformation", "aggregation"].index(key.path[0])


def _spans(partitions: set[str]) -> list[set[str]]:
    spans: list[list[str]] = []
    for p in sorted(partitions):
        if spans and D.fromisoformat(p) - D.fromisoformat(spans[-1][-1]) == dt.timedelta(days=1):
            spans[-1].append(p)
        else:
            spans.append([p])
    return [set(s) for s in spans]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, object]]:
    """FIRST..LAST delivered, sensed and published; automation settled (nothing to do)."""
    root = tmp_path_factory.mktemp("published")
    home, dagster_home = root / "home", root / "dagster"
    dagster_home.mkdir()
    deliver(home, FIRST, (LAST - FIRST).days + 1)
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        world = World(home, instance)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(settings.HOME_ENV_VAR, str(home))
            world.landing_cursor = None
            world.sense()
        world.run(set(ALL_KEYS) - INGESTION_KEYS, days(FIRST, LAST))
        world.settle()
        yield home, dagster_home, (world.automation_cursor, world.landing_cursor)


ALL_KEYS = [key for a in ALL_ASSETS for key in a.keys]
INGESTION_KEYS = {key for key in ALL_KEYS if key.path[0] == "ingestion"}


@pytest.fixture
def world(
    published: tuple[Path, Path, tuple], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    home, dagster_home, (automation_cursor, landing_cursor) = published
    shutil.copytree(home, tmp_path / "home")
    shutil.copytree(dagster_home, tmp_path / "dagster")
    monkeypatch.setenv(settings.HOME_ENV_VAR, str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # for the CLI
    ref = InstanceRef.from_dir(str(tmp_path / "dagster"))
    with dg.DagsterInstance.from_ref(ref) as instance:
        yield World(
            tmp_path / "home",
            instance,
            automation_cursor=automation_cursor,
            landing_cursor=landing_cursor,
        )


def redeliver(world: World, source: str, day: dt.date, change: tuple[bytes, bytes]) -> None:
    """The producer sends a corrected file for ``day``: ``change`` replaces one value."""
    path = daily_file(settings.landing_dir(world.home), source, day)
    data = path.read_bytes()
    assert change[0] in data
    path.write_bytes(data.replace(change[0], change[1], 1))


def first_flight(day: dt.date) -> bytes:
    """The first data line of ``day``'s real flights file, as delivered."""
    path = daily_file(settings.landing_dir(), "flights", day)
    return path.read_bytes().split(b"\n")[1]


def delayed(line: bytes, minutes: int) -> bytes:
    """The same flight with another departure delay (column 6)."""
    fields = line.split(b",")
    fields[5] = str(minutes).encode()
    return b",".join(fields)


ALL_FEATURES = [
    "cleansing/flights_clean",
    "cleansing/flights_quarantine",
    "cleansing/weather_clean",
    "cleansing/weather_quarantine",
    "transformation/flight_features",
    "aggregation/carrier_daily_stats",
    "aggregation/carrier_delay_7d",
    "aggregation/route_delay_28d",
    "aggregation/origin_weather_daily",
]


def redelivery_of_flights(day: str, last: dt.date = LAST) -> set[tuple[dg.AssetKey, str]]:
    """What a corrected flights file for ``day`` recomputes within the published range."""
    d = D.fromisoformat(day)
    return expect(
        {
            "cleansing/flights_clean": {day},
            "cleansing/flights_quarantine": {day},
            "transformation/flight_features": {day},
            "aggregation/carrier_daily_stats": {day},
            "aggregation/carrier_delay_7d": days(d, min(d + dt.timedelta(days=6), last)),
            "aggregation/route_delay_28d": days(d, min(d + dt.timedelta(days=27), last)),
        }
    )


def test_an_unchanged_landing_zone_requests_nothing(world: World) -> None:
    deliver(world.home, D(2013, 1, 3), 3)  # the producer sends the same three days again
    assert world.sense() == set()
    assert world.tick() == set()


def test_first_arrival_of_a_day(world: World) -> None:
    day = NEXT
    deliver(world.home, day, 1)
    assert world.sense() == expect(
        {"ingestion/raw_flights": {str(NEXT)}, "ingestion/raw_weather": {str(NEXT)}}
    )
    assert world.settle() == expect({name: {str(NEXT)} for name in ALL_FEATURES})


def test_a_redelivered_day_recomputes_its_windows_and_nothing_else(world: World) -> None:
    day = D(2013, 1, 3)
    line = first_flight(day)
    redeliver(world, "flights", day, (line, delayed(line, 95)))
    assert world.sense() == expect({"ingestion/raw_flights": {"2013-01-03"}})
    assert world.settle() == redelivery_of_flights("2013-01-03")
    assert world.tick() == set()


def test_late_weather_holds_back_only_what_needs_weather(world: World) -> None:
    day = NEXT
    deliver(world.home, day, 1, sources=["flights"])
    assert world.sense() == expect({"ingestion/raw_flights": {str(NEXT)}})
    flights_only = [
        "cleansing/flights_clean",
        "cleansing/flights_quarantine",
        "aggregation/carrier_daily_stats",
        "aggregation/carrier_delay_7d",
        "aggregation/route_delay_28d",
    ]
    assert world.settle() == expect({name: {str(NEXT)} for name in flights_only})

    deliver(world.home, day, 1, sources=["weather"])  # the weather lands, late
    assert world.sense() == expect({"ingestion/raw_weather": {str(NEXT)}})
    assert world.settle() == expect(
        {
            name: {str(NEXT)}
            for name in [
                "cleansing/weather_clean",
                "cleansing/weather_quarantine",
                "transformation/flight_features",
                "aggregation/origin_weather_daily",
            ]
        }
    )


def test_a_failed_blocking_check_holds_everything_downstream_until_fixed(world: World) -> None:
    day = D(2013, 1, 20)
    path = daily_file(settings.landing_dir(), "flights", day)
    good = path.read_bytes()
    header, *rows = good.decode().rstrip("\n").split("\n")
    path.write_text("\n".join([header, *rows[: len(rows) // 4]]) + "\n")  # a quarter of the day

    assert world.sense() == expect({"ingestion/raw_flights": {"2013-01-20"}})  # volume blocks it
    for _ in range(3):
        assert world.tick() == set()

    path.write_bytes(good)  # the producer re-delivers the whole day
    assert world.sense() == expect({"ingestion/raw_flights": {"2013-01-20"}})
    assert world.settle() == redelivery_of_flights("2013-01-20")


def test_every_partition_of_a_window_must_have_passed_its_checks(world: World) -> None:
    """One failed day holds back every rolling window that contains it, not just itself."""
    clean = k("cleansing/flights_clean")
    (latest,) = world.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=clean, asset_partitions=["2013-01-10"]), limit=1
    ).records
    world.instance.report_runless_asset_event(
        AssetCheckEvaluation(  # e.g. a reconciliation by another team, on that very version
            asset_key=clean,
            check_name="contract",
            passed=False,
            partition="2013-01-10",
            blocking=True,
            target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                run_id=latest.run_id, storage_id=latest.storage_id, timestamp=latest.timestamp
            ),
        )
    )
    line = first_flight(D(2013, 1, 12))
    redeliver(world, "flights", D(2013, 1, 12), (line, delayed(line, 95)))
    world.sense()
    held = {
        (k("aggregation/carrier_delay_7d"), p) for p in days(D(2013, 1, 12), D(2013, 1, 16))
    } | {(k("aggregation/route_delay_28d"), p) for p in days(D(2013, 1, 12), LAST)}
    assert world.settle() == redelivery_of_flights("2013-01-12") - held


def test_a_code_change_recomputes_the_asset_and_its_downstream(world: World) -> None:
    world.defs = with_code_version(world.home, k("cleansing/flights_clean"), "2")
    month = days(FIRST, LAST)
    assert world.settle() == expect(
        {
            "cleansing/flights_clean": month,
            "cleansing/flights_quarantine": month,
            "transformation/flight_features": month,
            "aggregation/carrier_daily_stats": month,
            "aggregation/carrier_delay_7d": month,
            "aggregation/route_delay_28d": month,
        }
    )


def spoil_planes() -> bytes:
    """A planes snapshot in which N8311Q (in January it flies on the 2nd only) is from 2020."""
    planes = snapshot_file(settings.landing_dir(), "planes")
    good = planes.read_bytes()
    planes.write_bytes(good.replace(b"\nN8311Q,2012,", b"\nN8311Q,2020,", 1))
    assert planes.read_bytes() != good
    return good


def test_the_breaker_opens_after_three_failures_and_closes_on_reset(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    features = k("transformation/flight_features")
    day = "2013-01-02"
    spoil_planes()
    for _ in range(BREAKER_THRESHOLD):  # three manual runs fail flight_features' contract
        assert not world.run({k("ingestion/planes"), features}, {day}).success
    (opened,) = open_partitions(world.instance, features, [day, "2013-01-03"])
    assert (opened.partition, opened.failures) == (day, BREAKER_THRESHOLD)

    # the planes were re-read: every day of flight_features is due, the breaker holds one back,
    # in this tick and the next ones, and says so
    assert world.tick() == expect({"transformation/flight_features": days(FIRST, LAST) - {day}})
    assert world.tick() == set()
    assert world.said == [f"transformation/flight_features: {day} (3 failures)"] * 2

    # reset: automation tries again, and a partition that keeps failing is retried until the
    # breaker opens again after three consecutive failures
    capsys.readouterr()
    assert cli.main(["breaker", "status"]) == 0
    status = capsys.readouterr().out
    assert f"transformation/flight_features {day}: open, 3 consecutive failures" in status
    reason = ["--reason", "let it try once more", "--by", "ml-oncall"]
    assert cli.main(["breaker", "reset", "transformation/flight_features", *reason]) == 0
    assert f"reset by ml-oncall (let it try once more); {day}" in capsys.readouterr().out
    assert open_partitions(world.instance, features, [day]) == []
    for _ in range(BREAKER_THRESHOLD):
        assert world.tick() == expect({"transformation/flight_features": {day}})
    assert world.tick() == set()
    assert open_partitions(world.instance, features, [day])[0].failures == BREAKER_THRESHOLD


def test_a_successful_manual_run_closes_the_breaker(world: World) -> None:
    features = k("transformation/flight_features")
    day = "2013-01-02"
    good = spoil_planes()
    for _ in range(BREAKER_THRESHOLD):
        assert not world.run({k("ingestion/planes"), features}, {day}).success
    assert open_partitions(world.instance, features, [day])
    snapshot_file(settings.landing_dir(), "planes").write_bytes(good)
    assert world.run({k("ingestion/planes"), features}, {day}).success
    assert open_partitions(world.instance, features, [day]) == []


def test_a_rollback_recomputes_what_reads_the_restored_partition(world: World) -> None:
    day = D(2013, 1, 3)
    window = days(day, day + dt.timedelta(days=6))

    def carrier_7d() -> dict[tuple[str, str], float]:
        rows = read_table(world.home, "aggregation.carrier_delay_7d", "flight_date, carrier")
        return {
            (str(d), c): m
            for d, c, m in rows.select("flight_date", "carrier", "mean_dep_delay_7d").iter_rows()
            if str(d) in window
        }

    good = carrier_7d()
    line = first_flight(day)
    redeliver(world, "flights", day, (line, delayed(line, 900)))  # a bad delay slips through
    world.sense()
    assert world.settle() == redelivery_of_flights("2013-01-03")
    assert carrier_7d() != good

    reason = ["--reason", "900 minutes was a typo", "--by", "ml-oncall"]
    assert cli.main(["rollback", "cleansing/flights_clean", "--partition", str(day), *reason]) == 0
    # what reads flights_clean of that day, and nothing else: not flights_clean, not raw_flights
    assert world.settle() == redelivery_of_flights("2013-01-03") - expect(
        {"cleansing/flights_clean": {"2013-01-03"}, "cleansing/flights_quarantine": {"2013-01-03"}}
    )
    assert world.tick() == set()
    restored = carrier_7d()
    assert restored.keys() == good.keys()
    assert all(restored[k] == pytest.approx(good[k]) for k in good)
