"""Quality gates: each asset's pandera contract is a blocking check on every partition it writes."""

import datetime as dt
import math
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_assets.definitions import defs
from feature_assets.defs.cleansing.flights_clean import DEP_DELAY_DRIFT
from feature_assets.lib import charts, nycflights, settings
from feature_assets.lib.checks import CONTRACT, gate
from feature_assets.lib.gates import (
    DRIFT,
    VOLUME,
    WEATHER_COVERAGE,
    VolumeRule,
    bin_counts,
    drift,
    psi,
    volume,
)
from feature_assets.lib.landing import snapshot_file
from feature_assets.lib.schemas import CONTRACTS
from feature_assets_tests.conftest import Materialize, deliver, read_table

D = dt.date
DAILY_STATS = dg.AssetKey(["aggregation", "carrier_daily_stats"])
CLEAN_FLIGHTS = dg.AssetKey(["cleansing", "flights_clean"])
FEATURES = dg.AssetKey(["transformation", "flight_features"])


def stats(carriers: list[str], days: list[dt.date], n_cancelled: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "flight_date": days,
            "carrier": carriers,
            "n_flights": [10] * len(days),
            "n_cancelled": n_cancelled,
            "mean_dep_delay": [1.0] * len(days),
            "pct_delayed_15": [0.1] * len(days),
        },
        schema_overrides={"n_flights": pl.Int32, "n_cancelled": pl.Int32},
    )


def test_every_asset_has_a_blocking_contract_check() -> None:
    graph = defs.resolve_asset_graph()
    specs = {spec.key for spec in defs.resolve_all_asset_specs()}
    assert set(CONTRACTS) == specs
    contracts = {key for key in graph.asset_check_keys if key.name == CONTRACT}
    assert {key.asset_key for key in contracts} == specs
    for check_key in contracts:
        spec = graph.get_check_spec(check_key)
        assert spec.blocking
        assert spec.description and "pandera contract" in spec.description
    volumes = {
        key.asset_key.to_user_string() for key in graph.asset_check_keys if key.name == VOLUME
    }
    assert volumes == {"ingestion/raw_flights", "ingestion/raw_weather"}
    drifts = [key for key in graph.asset_check_keys if key.name == DRIFT]
    assert [key.asset_key for key in drifts] == [CLEAN_FLIGHTS]
    assert not graph.get_check_spec(drifts[0]).blocking


def test_a_row_failure_counts_against_its_own_partition_only() -> None:
    days = [D(2013, 1, 1), D(2013, 1, 2), D(2013, 1, 2)]
    frame = stats(["AA", "UA", "UA"], days, [0, 11, 0])  # 11 cancelled of 10; UA twice on the 2nd
    results = gate(DAILY_STATS, frame, "flight_date", ["2013-01-01", "2013-01-02"])
    assert [(r.partition, r.passed) for r in results] == [
        ("2013-01-01", True),
        ("2013-01-02", False),
    ]
    failed = results[1]
    assert failed.metadata["failures"].value == 3  # two duplicate rows and one impossible count
    rules = str(failed.metadata["rules"].value)
    assert "multiple_fields_uniqueness" in rules
    assert "n_cancelled must not exceed n_flights" in rules
    assert failed.description is not None and "partition 2013-01-02" in failed.description
    assert results[0].metadata["rows"].value == 1


def test_a_table_level_failure_counts_against_every_partition() -> None:
    frame = stats(["AA", "UA"], [D(2013, 1, 1), D(2013, 1, 2)], [0, 0]).drop("pct_delayed_15")
    results = gate(DAILY_STATS, frame, "flight_date", ["2013-01-01", "2013-01-02"])
    assert [r.passed for r in results] == [False, False]
    assert "pct_delayed_15" in str(results[0].metadata["rules"].value)


def test_a_contract_breach_is_stopped_where_it_appears_and_healed_by_a_corrected_file(
    home: Path, materialize: Materialize, instance: dg.DagsterInstance
) -> None:
    """No row rule covers a plane built in the future; flight_features' contract catches it."""
    day = D(2013, 1, 2)
    deliver(home, D(2013, 1, 1), 2)
    materialize(D(2013, 1, 1), day)
    published = {
        table: read_table(home, table, key)
        for table, key in (
            ("transformation.flight_features", "flight_id"),
            ("aggregation.carrier_daily_stats", "flight_date, carrier"),
            ("aggregation.carrier_delay_7d", "flight_date, carrier"),
        )
    }
    path = snapshot_file(settings.landing_dir(home), "planes")
    good = path.read_bytes()
    flights = nycflights.table("flights").filter(pl.col("month") == 1, pl.col("day") == 2)
    tail = flights.join(nycflights.table("planes"), on="tailnum")["tailnum"][0]
    year = nycflights.table("planes").filter(pl.col("tailnum") == tail)["year"][0]
    path.write_bytes(good.replace(f"\n{tail},{year},".encode(), f"\n{tail},2020,".encode(), 1))
    bad = path.read_bytes()
    assert bad != good
    n_bad = flights.filter(pl.col("tailnum") == tail).height

    result = materialize(day, day, raise_on_error=False)

    assert not result.success
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.asset_key == FEATURES
        and e.asset_check_evaluation_data.check_name == CONTRACT
    ]
    assert not evaluation.passed
    assert evaluation.partition == "2013-01-02"
    assert evaluation.description is not None
    assert evaluation.description.startswith(
        f"transformation/flight_features partition 2013-01-02: {n_bad} contract failures"
    )
    rules = str(evaluation.metadata["rules"].value)
    assert "| plane_age_years | in_range(0, 100) |" in rules
    assert "-7" in rules
    assert "'plane_age_years': -7" in str(evaluation.metadata["examples"].value)
    # flight_features kept its published rows; the aggregations, which do not read it, ran.
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert FEATURES not in materialized
    assert DAILY_STATS in materialized
    for table, before in published.items():
        assert_frame_equal(read_table(home, table, before.columns[0]), before)
    assert path.read_bytes() == bad  # the landing file is left as delivered

    path.write_bytes(good)  # the producer re-delivers the corrected file
    healed = materialize(day, day)
    assert healed.success
    assert read_table(home, "cleansing.flights_clean", "flight_id").height == 842 + 943


RAW_FLIGHTS = dg.AssetKey(["ingestion", "raw_flights"])


def test_volume_is_judged_against_the_median_of_the_days_before() -> None:
    counts = {D(2013, 1, d): n for d, n in ((1, 900), (2, 1000), (3, 950), (4, 300), (6, 2000))}
    results = volume(RAW_FLIGHTS, VolumeRule(), counts, ["2013-01-03", "2013-01-04", "2013-01-05"])
    by_day = {r.partition: r for r in results}
    # 3 January has only two earlier days: too little history, passes.
    assert by_day["2013-01-03"].passed
    assert by_day["2013-01-03"].metadata["history_days"].value == 2
    # 4 January: 300 rows against the median 950 of 1..3 January.
    assert not by_day["2013-01-04"].passed
    assert by_day["2013-01-04"].metadata["ratio"].value == round(300 / 950, 3)
    assert by_day["2013-01-04"].description == (
        "ingestion/raw_flights partition 2013-01-04: 300 rows = 0.32 × the median 950 of the "
        "3 days before (outside [0.5, 2.0])"
    )
    # 5 January is one of the run's days with no rows at all.
    assert by_day["2013-01-05"].metadata["rows"].value == 0
    assert not by_day["2013-01-05"].passed
    assert all(r.severity == dg.AssetCheckSeverity.ERROR and r.blocking for r in results)


def test_a_day_without_weather_is_reported_but_not_held_back(
    home: Path, materialize: Materialize, instance: dg.DagsterInstance
) -> None:
    # The real weather data stops on 30 December at 18:00: 31 December is delivered empty.
    deliver(home, D(2013, 12, 27), 5)
    result = materialize(D(2013, 12, 27), D(2013, 12, 31))
    assert result.success
    (warning,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == VOLUME
        and not e.asset_check_evaluation_data.passed
    ]
    assert (warning.asset_key, warning.partition) == (
        dg.AssetKey(["ingestion", "raw_weather"]),
        "2013-12-31",
    )
    assert warning.severity == dg.AssetCheckSeverity.WARN
    features = read_table(home, "transformation.flight_features", "flight_id")
    last_day = features.filter(pl.col("flight_date") == D(2013, 12, 31))
    assert last_day.height == 776 and last_day["temp"].null_count() == 776
    # ...and flight_features says which flights and hours went without (the 30th ends at 18:00).
    coverage = {
        e.asset_check_evaluation_data.partition: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == WEATHER_COVERAGE
    }
    assert coverage["2013-12-29"].passed
    assert coverage["2013-12-31"].description == (
        "transformation/flight_features partition 2013-12-31: 776 of 776 flights have no weather "
        "for their origin and hour (53 origin-hours missing)"  # distinct (origin, time_hour)
    )
    assert not coverage["2013-12-30"].passed
    assert coverage["2013-12-30"].severity == dg.AssetCheckSeverity.WARN


def bars_of(row: str) -> list[tuple[int, float]]:
    """Each histogram cell of a markdown row as (bar length in eighths of a block, share)."""
    found = []
    for cell in row.strip("| ").split(" | ")[1:]:
        drawn, share = cell.rsplit(" ", 1)
        blocks = drawn.strip("`").rstrip()
        partial = charts.EIGHTHS.index(blocks[-1]) if blocks and blocks[-1] != charts.FULL else 0
        found.append((8 * blocks.count(charts.FULL) + partial, float(share.rstrip("%")) / 100))
    return found


def test_text_charts_are_drawn_to_an_eighth_of_a_block() -> None:
    assert charts.bar(1.0, 1.0, width=4) == "████"
    assert charts.bar(0.5, 1.0, width=4) == "██"
    assert charts.bar(0.3, 1.0, width=4) == "█▎"  # 9.6 eighths: 10
    assert charts.bar(0.0, 1.0, width=4) == ""
    assert charts.bar(0.2, 0.0, width=4) == ""
    assert charts.sparkline([0.0, 0.5, 1.0, 0.25], 1.0) == "▁▅█▃"
    assert charts.histograms(["a", "b"], {"x": [1, 3], "y": [2, 2]}, "bin") == (
        "| bin | x | y |\n|---|---|---|\n"
        f"| a | `{'████████'.ljust(24)}` 25.0% | `{'████████████████'.ljust(24)}` 50.0% |\n"
        f"| b | `{'█' * 24}` 75.0% | `{'████████████████'.ljust(24)}` 50.0% |"
    )


def test_psi_of_identical_and_of_shifted_histograms() -> None:
    assert psi([10, 20, 70], [1, 2, 7]) == 0.0
    # Half the mass moved from the last bin to the first: (0.4)·ln(0.5/0.1) + (-0.4)·ln(0.3/0.7).
    expected = 0.4 * math.log(0.5 / 0.1) - 0.4 * math.log(0.3 / 0.7)
    assert psi([50, 20, 30], [10, 20, 70]) == pytest.approx(expected)


def test_drift_of_real_departure_delays_flags_the_march_snowstorm() -> None:
    flights = nycflights.table("flights").with_columns(day=pl.date("year", "month", "day"))
    rule = DEP_DELAY_DRIFT
    keys = [(D(2013, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(365)]
    results = drift(CLEAN_FLIGHTS, rule, bin_counts(flights, "day", rule), keys)
    judged = [r for r in results if "psi" in r.metadata]
    assert len(judged) == 365 - 7  # the first week has too little history
    worst = max(judged, key=lambda r: float(r.metadata["psi"].value))  # pyright: ignore
    assert worst.partition == "2013-03-08"
    assert worst.severity == dg.AssetCheckSeverity.ERROR and not worst.passed
    assert not worst.blocking
    # the picture: the day's and the reference's shares per bin, as bars on one scale
    table = str(worst.metadata["histogram"].value)
    assert table.startswith("| dep_delay bin | 2013-03-08 | the 28 days before |")
    rows = {line.split(" | ")[0][2:]: line for line in table.splitlines()[2:]}
    assert list(rows) == ["≤-10", "≤-5", "≤0", "≤5", "≤15", "≤30", "≤60", "≤120", "≤240", ">240"]
    drawn = {label: bars_of(line) for label, line in rows.items()}
    top = max(share for pair in drawn.values() for _, share in pair)
    for label, pair in drawn.items():
        for eighths, share in pair:  # each bar is its share (printed to 0.1%) in eighths of a block
            assert abs(eighths - share / top * charts.WIDTH * 8) <= 1.5, label
    # the storm: a fifth of the day's departures were 2-4 hours late, against 2.2% before
    late = pl.col("dep_delay").is_between(120, 240, closed="right")
    departed = flights.filter(pl.col("dep_delay").is_not_null())
    storm = departed.filter(pl.col("day") == D(2013, 3, 8))["dep_delay"]
    before = departed.filter(pl.col("day").is_between(D(2013, 2, 8), D(2013, 3, 7)))
    expected = [
        storm.is_between(120, 240, closed="right").mean(),
        before.select(late.mean()).item(),
    ]
    assert [share for _, share in drawn["≤240"]] == pytest.approx(expected, abs=0.0005)
    assert expected == pytest.approx([0.204, 0.022], abs=0.0005)
    day_shape, reference_shape = str(worst.metadata["shape"].value).split(" · ")
    assert day_shape == "day ▁▂▄▂▃▂▄▆▅▃"
    assert reference_shape == "28 days before ▂▆█▃▃▂▂▂▁▁ (≤-10 … >240)"
    flagged = [r for r in judged if not r.passed]
    assert 5 <= len(flagged) <= 25  # calibrated: about the 95th percentile of real days
