"""Contract of the transformation tier."""

import pandera.polars as pa
import polars as pl

from feature_assets.lib.schemas.cleansing import UTC, weather_range


class FlightFeatures(pa.DataFrameModel):
    """One row per flight: the features and the label."""

    flight_id: str = pa.Field(unique=True)
    flight_date: pl.Date
    sched_dep_utc: UTC  # pyright: ignore[reportInvalidTypeForm]
    carrier: str = pa.Field(str_length={"min_value": 2, "max_value": 2})
    origin: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    dest: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    distance: pl.Int32 = pa.Field(gt=0)
    dep_hour: pl.Int8 = pa.Field(in_range={"min_value": 0, "max_value": 23})
    day_of_week: pl.Int8 = pa.Field(in_range={"min_value": 1, "max_value": 7})
    plane_age_years: pl.Int32 = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 100})
    temp: float = pa.Field(nullable=True, in_range=weather_range("temp"))
    wind_speed: float = pa.Field(nullable=True, in_range=weather_range("wind_speed"))
    precip: float = pa.Field(nullable=True, in_range=weather_range("precip"))
    visib: float = pa.Field(nullable=True, in_range=weather_range("visib"))
    dep_delayed_15: bool = pa.Field(nullable=True)

    class Config(pa.DataFrameModel.Config):
        strict = True
