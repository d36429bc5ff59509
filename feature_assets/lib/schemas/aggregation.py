"""Contracts of the aggregation tier."""

import pandera.polars as pa
import polars as pl

SHARE = {"min_value": 0.0, "max_value": 1.0}


class CarrierDailyStats(pa.DataFrameModel):
    """One row per local day and carrier."""

    flight_date: pl.Date
    carrier: str = pa.Field(str_length={"min_value": 2, "max_value": 2})
    n_flights: pl.Int32 = pa.Field(ge=1)
    n_cancelled: pl.Int32 = pa.Field(ge=0)
    mean_dep_delay: float = pa.Field(nullable=True)
    pct_delayed_15: float = pa.Field(nullable=True, in_range=SHARE)

    class Config(pa.DataFrameModel.Config):
        strict = True
        unique = ["flight_date", "carrier"]

    @pa.dataframe_check(error="n_cancelled must not exceed n_flights")
    @classmethod
    def cancelled_within_scheduled(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """n_cancelled <= n_flights."""
        return data.lazyframe.select(pl.col("n_cancelled") <= pl.col("n_flights"))


class CarrierDelay7d(pa.DataFrameModel):
    """One row per local day and carrier, over the trailing 7 days."""

    flight_date: pl.Date
    carrier: str = pa.Field(str_length={"min_value": 2, "max_value": 2})
    mean_dep_delay_7d: float
    n_flights_7d: pl.Int32 = pa.Field(ge=1)

    class Config(pa.DataFrameModel.Config):
        strict = True
        unique = ["flight_date", "carrier"]


class RouteDelay28d(pa.DataFrameModel):
    """One row per local day and route, over the trailing 28 days."""

    flight_date: pl.Date
    origin: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    dest: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    mean_arr_delay_28d: float
    n_flights_28d: pl.Int32 = pa.Field(ge=1)

    class Config(pa.DataFrameModel.Config):
        strict = True
        unique = ["flight_date", "origin", "dest"]


class OriginWeatherDaily(pa.DataFrameModel):
    """One row per local day and origin."""

    date: pl.Date
    origin: str = pa.Field(str_length={"min_value": 3, "max_value": 3})
    mean_temp: float = pa.Field(nullable=True)
    max_wind_speed: float = pa.Field(nullable=True, ge=0)
    total_precip: float = pa.Field(nullable=True, ge=0)
    min_visib: float = pa.Field(nullable=True, ge=0)
    hours_observed: pl.Int32 = pa.Field(in_range={"min_value": 1, "max_value": 25})

    class Config(pa.DataFrameModel.Config):
        strict = True
        unique = ["date", "origin"]
