"""Contract of the training sets: one row per flight, features known at prediction time."""

import pandera.polars as pa
import polars as pl

from feature_assets.lib.schemas.cleansing import UTC, weather_range


class FlightDelayTrainingSet(pa.DataFrameModel):
    """One row per flight: schedule features, point-in-time features and the label.

    Each point-in-time group carries the instant its row became known (``*_available_at``).
    """

    flight_id: str = pa.Field(unique=True)
    flight_date: pl.Date
    sched_dep_utc: UTC  # pyright: ignore[reportInvalidTypeForm]
    prediction_time: UTC = pa.Field(description="scheduled departure minus the lead time")  # pyright: ignore[reportInvalidTypeForm]
    carrier: str = pa.Field(str_length={"min_value": 2, "max_value": 2})
    origin: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    dest: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    distance: pl.Int32 = pa.Field(gt=0)
    dep_hour: pl.Int8 = pa.Field(in_range={"min_value": 0, "max_value": 23})
    day_of_week: pl.Int8 = pa.Field(in_range={"min_value": 1, "max_value": 7})
    plane_age_years: pl.Int32 = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 100})
    dep_delayed_15: bool = pa.Field(nullable=True)
    temp: float = pa.Field(nullable=True, in_range=weather_range("temp"))
    wind_speed: float = pa.Field(nullable=True, in_range=weather_range("wind_speed"))
    precip: float = pa.Field(nullable=True, in_range=weather_range("precip"))
    visib: float = pa.Field(nullable=True, in_range=weather_range("visib"))
    weather_available_at: UTC = pa.Field(nullable=True)  # pyright: ignore[reportInvalidTypeForm]
    mean_dep_delay_7d: float = pa.Field(nullable=True)
    n_flights_7d: pl.Int32 = pa.Field(nullable=True, ge=1)
    carrier_7d_available_at: UTC = pa.Field(nullable=True)  # pyright: ignore[reportInvalidTypeForm]
    mean_arr_delay_28d: float = pa.Field(nullable=True)
    n_flights_28d: pl.Int32 = pa.Field(nullable=True, ge=1)
    route_28d_available_at: UTC = pa.Field(nullable=True)  # pyright: ignore[reportInvalidTypeForm]

    class Config(pa.DataFrameModel.Config):
        strict = True
