"""Contracts of the ingestion tier: the producers' columns and types, plus where each row came from.

Raw tables keep what producers sent, so their contract is structure (names, types, the landing
columns), not plausibility: that is cleansing's job, which quarantines implausible rows.
"""

import pandera.polars as pa
import polars as pl

from feature_assets.lib.landing import DAILY_SOURCES


def raw_daily_model(source: str) -> pa.DataFrameSchema:
    """The raw table of a daily source: producer columns (nullable), landing columns (required)."""
    columns = {
        name: pa.Column(dtype, nullable=True) for name, dtype in DAILY_SOURCES[source].items()
    }
    return pa.DataFrameSchema(
        {
            **columns,
            "source_file": pa.Column(pl.String, nullable=False),
            "landing_date": pa.Column(pl.Date, nullable=False),
        },
        name=f"raw_{source}",
        strict=True,
    )


class Airlines(pa.DataFrameModel):
    """One row per carrier code."""

    carrier: str = pa.Field(unique=True, str_length={"min_value": 2, "max_value": 2})
    name: str = pa.Field(nullable=True)

    class Config(pa.DataFrameModel.Config):
        strict = True


class Airports(pa.DataFrameModel):
    """One row per FAA airport code."""

    faa: str = pa.Field(unique=True, str_length={"min_value": 3, "max_value": 4})
    name: str = pa.Field(nullable=True)
    lat: float = pa.Field(nullable=True, in_range={"min_value": -90, "max_value": 90})
    lon: float = pa.Field(nullable=True, in_range={"min_value": -180, "max_value": 180})
    alt: pl.Int32 = pa.Field(nullable=True)
    tz: pl.Int32 = pa.Field(nullable=True)
    dst: str = pa.Field(nullable=True)
    tzone: str = pa.Field(nullable=True)

    class Config(pa.DataFrameModel.Config):
        strict = True


class Planes(pa.DataFrameModel):
    """One row per tail number."""

    tailnum: str = pa.Field(unique=True)
    year: pl.Int32 = pa.Field(nullable=True, in_range={"min_value": 1900, "max_value": 2100})
    type: str = pa.Field(nullable=True)
    manufacturer: str = pa.Field(nullable=True)
    model: str = pa.Field(nullable=True)
    engines: pl.Int32 = pa.Field(nullable=True, ge=0)
    seats: pl.Int32 = pa.Field(nullable=True, ge=0)
    speed: pl.Int32 = pa.Field(nullable=True, ge=0)
    engine: str = pa.Field(nullable=True)

    class Config(pa.DataFrameModel.Config):
        strict = True
