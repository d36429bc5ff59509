"""Contract of the training sets: one row per flight, features known at prediction time."""

import pandera.polars as pa
import polars as pl

from feature_assets.lib.schemas.cleansing import UTC
from feature_assets.lib.schemas.transformation import FlightFeatures


class FlightDelayTrainingSet(FlightFeatures):
    """One row per flight: flight_features' columns, with point-in-time features.

    The weather is the one known at the prediction time (not the departure hour's); each group
    carries when its row became known.
    """

    prediction_time: UTC = pa.Field(description="scheduled departure minus the lead time")  # pyright: ignore[reportInvalidTypeForm]
    weather_available_at: UTC = pa.Field(nullable=True)  # pyright: ignore[reportInvalidTypeForm]
    mean_dep_delay_7d: float = pa.Field(nullable=True)
    n_flights_7d: pl.Int32 = pa.Field(nullable=True, ge=1)
    carrier_7d_available_at: UTC = pa.Field(nullable=True)  # pyright: ignore[reportInvalidTypeForm]
    mean_arr_delay_28d: float = pa.Field(nullable=True)
    n_flights_28d: pl.Int32 = pa.Field(nullable=True, ge=1)
    route_28d_available_at: UTC = pa.Field(nullable=True)  # pyright: ignore[reportInvalidTypeForm]
