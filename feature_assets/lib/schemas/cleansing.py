"""Contracts of the cleansing tier.

The cleansing transforms build their quarantine rules from these models
(``feature_assets.lib.rules.contract_rules``): a row that would break a column check here is
quarantined with the check's name, so the blocking contract check is the last gate, not the first.
"""

import pandera.polars as pa
import polars as pl

MIN_DELAY_MINUTES = -120
MAX_DELAY_MINUTES = 24 * 60 + 600  # the worst real departure delay is 1,301 minutes

WEATHER_RANGES: dict[str, tuple[float, float, str]] = {
    "temp": (-40.0, 130.0, "°F"),
    "dewp": (-60.0, 100.0, "°F"),
    "humid": (0.0, 100.0, "%"),
    "wind_dir": (0, 360, "degrees"),
    "wind_speed": (0.0, 150.0, "mph"),
    "wind_gust": (0.0, 200.0, "mph"),
    "precip": (0.0, 10.0, "inches per hour"),
    "pressure": (900.0, 1100.0, "millibar"),
    "visib": (0.0, 10.0, "miles"),
}
UTC = pl.Datetime("us", "UTC")
DELAY = {"min_value": MIN_DELAY_MINUTES, "max_value": MAX_DELAY_MINUTES}
HHMM = "local time, HHMM"


def weather_range(column: str) -> dict[str, float]:
    """The plausible range of a weather column, as pandera's ``in_range`` arguments."""
    low, high, _unit = WEATHER_RANGES[column]
    return {"min_value": low, "max_value": high}


def _weather(column: str) -> pa.Column:
    low, high, unit = WEATHER_RANGES[column]
    return pa.Column(
        pl.Int32 if column == "wind_dir" else pl.Float64,
        pa.Check.in_range(low, high),
        nullable=True,
        description=unit,
    )


class FlightsClean(pa.DataFrameModel):
    """One row per flight, keyed by flight_id."""

    flight_id: str = pa.Field(
        unique=True,
        str_matches=r"^\d{8}-\w{2}\d+-[A-Z]{3}-\d{4}$",
        description="local date, carrier and flight number, origin, local HHMM",
    )
    flight_date: pl.Date = pa.Field(description="local calendar day of scheduled departure")
    sched_dep_utc: UTC = pa.Field(description="scheduled departure, UTC")  # pyright: ignore[reportInvalidTypeForm]
    carrier: str = pa.Field(str_length={"min_value": 2, "max_value": 2})
    flight: pl.Int32 = pa.Field(ge=0)
    tailnum: str = pa.Field(nullable=True)
    origin: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    dest: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    sched_dep_time: pl.Int32 = pa.Field(
        in_range={"min_value": 0, "max_value": 2359}, description=HHMM
    )
    dep_time: pl.Int32 = pa.Field(
        nullable=True, in_range={"min_value": 0, "max_value": 2400}, description=HHMM
    )
    dep_delay: pl.Int32 = pa.Field(nullable=True, in_range=DELAY, description="minutes")
    sched_arr_time: pl.Int32 = pa.Field(
        nullable=True, in_range={"min_value": 0, "max_value": 2400}, description=HHMM
    )
    arr_time: pl.Int32 = pa.Field(
        nullable=True, in_range={"min_value": 0, "max_value": 2400}, description=HHMM
    )
    arr_delay: pl.Int32 = pa.Field(nullable=True, in_range=DELAY, description="minutes")
    air_time: pl.Int32 = pa.Field(nullable=True, ge=0, description="minutes")
    distance: pl.Int32 = pa.Field(gt=0, description="miles")
    cancelled: bool = pa.Field(description="no departure time was recorded")

    class Config(pa.DataFrameModel.Config):
        strict = True


weather_clean_model = pa.DataFrameSchema(
    {
        "origin": pa.Column(pl.String, pa.Check.str_length(3, 3)),
        "time_hour": pa.Column(UTC),
        "obs_date": pa.Column(pl.Date),
        **{column: _weather(column) for column in WEATHER_RANGES},
    },
    name="weather_clean",
    unique=["origin", "time_hour"],
    strict=True,
)
"""One row per origin and UTC hour."""


class Quarantine(pa.DataFrameModel):
    """One row per delivered row that broke a cleansing rule."""

    landing_date: pl.Date
    source_file: str
    rule: str = pa.Field(str_length={"min_value": 1})
    columns: str = pa.Field(str_length={"min_value": 1})
    detail: str = pa.Field(str_length={"min_value": 1})
    record: str = pa.Field(str_startswith="{")

    class Config(pa.DataFrameModel.Config):
        strict = True
