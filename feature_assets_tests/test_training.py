"""Point-in-time training sets: a hand-worked as-of join, a brute-force check on real flights,
and the leakage check catching a leaky join."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_assets import cli
from feature_assets.lib import settings
from feature_assets.lib.demo import range_tags
from feature_assets.lib.gates import LEAKAGE, leakage
from feature_assets.lib.resources import build_resources
from feature_assets.lib.transforms import training
from feature_assets_tests.conftest import ALL_ASSETS, Materialize, deliver, read_table

pytestmark = pytest.mark.xdist_group("training")  # its tests share a module fixture: one worker

KEY = dg.AssetKey(["training", "flight_delay_training_set"])
UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def labels(rows: list[dict]) -> pl.LazyFrame:
    base = {
        "carrier": "UA",
        "origin": "EWR",
        "dest": "ORD",
        "distance": 719,
        "dep_hour": 10,
        "day_of_week": 4,
        "plane_age_years": 5,
        "dep_delayed_15": False,
    }
    return pl.DataFrame([base | row for row in rows]).lazy()


def test_each_feature_is_the_latest_known_at_prediction_time() -> None:
    flights = labels(
        [
            {
                "flight_id": "a",
                "flight_date": dt.date(2013, 1, 10),
                "sched_dep_utc": at(2013, 1, 10, 15),  # 10:00 EST, predicted at 13:00 UTC
            },
            {
                "flight_id": "b",
                "flight_date": dt.date(2013, 1, 10),
                "sched_dep_utc": at(2013, 1, 10, 22),  # no weather hour within 3 h of 20:00
                "origin": "JFK",
            },
        ]
    )
    weather = pl.DataFrame(
        {
            "origin": ["EWR", "EWR", "EWR", "JFK"],
            "time_hour": [at(2013, 1, 10, 11), at(2013, 1, 10, 12), at(2013, 1, 10, 13)]
            + [at(2013, 1, 10, 15)],  # known from 16:00: 4 h before 20:00
            "temp": [30.0, 31.0, 32.0, 40.0],
            "wind_speed": [5.0, 6.0, 7.0, 8.0],
            "precip": [0.0] * 4,
            "visib": [10.0] * 4,
        }
    ).lazy()
    days = [dt.date(2013, 1, 8), dt.date(2013, 1, 9), dt.date(2013, 1, 10)]
    carrier_7d = pl.DataFrame(
        {
            "flight_date": days,
            "carrier": ["UA"] * 3,
            "mean_dep_delay_7d": [8.0, 9.0, 10.0],
            "n_flights_7d": [100, 110, 120],
        }
    ).lazy()
    route_28d = pl.DataFrame(
        {
            "flight_date": [dt.date(2013, 1, 5)],  # known from 01-06 05:00 UTC: 3 days too old
            "origin": ["EWR"],
            "dest": ["ORD"],
            "mean_arr_delay_28d": [3.0],
            "n_flights_28d": [400],
        }
    ).lazy()

    rows = training.training_set(flights, weather, carrier_7d, route_28d).collect()

    a, b = rows.to_dicts()
    assert a["prediction_time"] == at(2013, 1, 10, 13)
    # the 12:00 UTC hour ended at 13:00, exactly the prediction time; the 13:00 hour had not
    assert (a["temp"], a["weather_available_at"]) == (31.0, at(2013, 1, 10, 13))
    # day D's aggregate is known from local midnight after D: 01-09's (01-10 05:00 UTC)
    assert (a["mean_dep_delay_7d"], a["carrier_7d_available_at"]) == (9.0, at(2013, 1, 10, 5))
    assert a["mean_arr_delay_28d"] is None and a["route_28d_available_at"] is None
    assert b["prediction_time"] == at(2013, 1, 10, 20)
    assert b["temp"] is None  # JFK's 15:00 hour was known 4 h earlier: past its 3 h TTL
    assert b["mean_dep_delay_7d"] == 9.0  # carriers do not depend on the airport
    assert training.leaks(rows).height == 0


@pytest.fixture(scope="module")
def january(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2013-01-01..10 published through every tier, the training set included."""
    home = tmp_path_factory.mktemp("january")
    deliver(home, dt.date(2013, 1, 1), 10)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            resources=build_resources(home),
            instance=instance,
            tags=range_tags(dt.date(2013, 1, 1), dt.date(2013, 1, 10)),
        )
        checks = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            and e.asset_check_evaluation_data.check_name == LEAKAGE
        ]
        assert len(checks) == 10 and all(c.passed for c in checks)
    return home


def brute_force(flight: dict, table: list[dict], by: tuple[str, ...], known: str, ttl) -> dict:
    """The latest row of ``table`` for the flight's ``by`` known at its prediction time."""
    best = None
    for row in table:
        if all(row[k] == flight[k] for k in by) and (
            flight["prediction_time"] - ttl <= row[known] <= flight["prediction_time"]
        ):
            if best is None or row[known] > best[known]:
                best = row
    return best or {}


def test_real_training_rows_match_a_brute_force_as_of_join(january: Path) -> None:
    rows = read_table(january, "training.flight_delay_training_set", "flight_id")
    features = read_table(january, "transformation.flight_features", "flight_id")
    assert rows["flight_id"].to_list() == features["flight_id"].to_list()  # one row per flight
    assert rows["dep_delayed_15"].to_list() == features["dep_delayed_15"].to_list()

    weather = read_table(january, "cleansing.weather_clean", "origin, time_hour").with_columns(
        known=pl.col("time_hour") + pl.duration(hours=1)
    )
    local_end = (
        (pl.col("flight_date").cast(pl.Datetime("us")) + pl.duration(days=1))
        .dt.replace_time_zone("America/New_York")
        .dt.convert_time_zone("UTC")
    )
    carrier = read_table(january, "aggregation.carrier_delay_7d", "flight_date, carrier")
    route = read_table(january, "aggregation.route_delay_28d", "flight_date, origin, dest")
    tables = {
        "weather": weather.to_dicts(),
        "carrier": carrier.with_columns(known=local_end).to_dicts(),
        "route": route.with_columns(known=local_end).to_dicts(),
    }
    sample = rows.gather_every(25)  # a few hundred real flights across the ten days
    assert sample.height > 250
    found = {"weather": 0, "carrier": 0, "route": 0}
    for flight in sample.to_dicts():
        for name, group, by, columns in (
            ("weather", training.WEATHER, ("origin",), ("temp", "wind_speed", "precip", "visib")),
            ("carrier", training.CARRIER_7D, ("carrier",), ("mean_dep_delay_7d", "n_flights_7d")),
            (
                "route",
                training.ROUTE_28D,
                ("origin", "dest"),
                ("mean_arr_delay_28d", "n_flights_28d"),
            ),
        ):
            expected = brute_force(flight, tables[name], by, "known", group.ttl)
            assert flight[group.available_at] == expected.get("known"), (name, flight)
            for column in columns:
                assert flight[column] == expected.get(column), (name, column, flight)
            found[name] += bool(expected)
    # the join found rows: weather for nearly every flight, the daily aggregates from 2 January
    assert found["weather"] > 0.9 * sample.height
    assert found["carrier"] > 0.85 * sample.height
    assert found["route"] > 0.8 * sample.height


def test_the_leakage_check_catches_a_leaky_join(january: Path) -> None:
    rows = read_table(january, "training.flight_delay_training_set", "flight_id")
    assert training.leaks(rows).height == 0
    # the classic mistake: the weather of the departure hour (what flight_features carries),
    # which is only known an hour after departure, three hours after the prediction
    features = read_table(january, "transformation.flight_features", "flight_id")
    leaky = (
        rows.drop("temp", "wind_speed", "precip", "visib")
        .join(features.select("flight_id", "temp", "wind_speed", "precip", "visib"), on="flight_id")
        .with_columns(
            weather_available_at=pl.col("sched_dep_utc").dt.truncate("1h") + pl.duration(hours=1)
        )
    )
    found = training.leaks(leaky)
    assert found.height == leaky.filter(pl.col("weather_available_at").is_not_null()).height
    assert set(found["feature_group"]) == {"weather"}
    (evaluation,) = leakage(KEY, found, leaky, ["2013-01-05"])
    assert not evaluation.passed and evaluation.blocking
    day = leaky.filter(pl.col("flight_date") == dt.date(2013, 1, 5)).height
    assert evaluation.description == (
        f"training/flight_delay_training_set partition 2013-01-05: {day} features known after "
        f"their prediction time (weather: {day})"
    )
    assert evaluation.metadata["leaks_weather"].value == day


def test_the_training_set_holds_the_real_labels(materialize: Materialize, home: Path) -> None:
    deliver(home, dt.date(2013, 1, 1), 2)
    materialize(dt.date(2013, 1, 1), dt.date(2013, 1, 2))
    rows = read_table(home, "training.flight_delay_training_set", "flight_id")
    assert rows.height == 842 + 943  # the real flights of 1 and 2 January 2013
    # the first day has no aggregate before it: those features are null, not invented
    first = rows.filter(pl.col("flight_date") == dt.date(2013, 1, 1))
    assert first["mean_dep_delay_7d"].null_count() == first.height


def test_the_cli_writes_the_same_training_set_as_the_asset(
    january: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.HOME_ENV_VAR, str(january))
    monkeypatch.setenv(settings.SIGNING_KEY_ENV_VAR, "a test key, not a secret")
    out = tmp_path / "train.parquet"
    command = ["training-set", "--start", "2013-01-03", "--end", "2013-01-10", "--out", str(out)]
    assert cli.main(command) == 0
    written = pl.read_parquet(out).sort("flight_id")
    published = read_table(january, "training.flight_delay_training_set", "flight_id").filter(
        pl.col("flight_date") >= dt.date(2013, 1, 3)
    )
    # (DuckDB hands TIMESTAMPTZ back as Etc/UTC; the store normalises it to UTC)
    utc = pl.col(pl.Datetime("us", "Etc/UTC")).dt.convert_time_zone("UTC")
    assert_frame_equal(written, published.with_columns(utc))
