"""The data contracts: one pandera (polars) model per table, by asset key.

Each model is stated once here; the blocking ``contract`` check of its asset, the check's
description in the UI, the cleansing quarantine rules (``lib/rules.py``) and the column schema
the UI shows (``table_schema``) are built from it.
"""

import dagster as dg
import pandera.polars as pa

from feature_assets.lib.schemas import (
    aggregation,
    cleansing,
    ingestion,
    training,
    transformation,
)

Contract = type[pa.DataFrameModel] | pa.DataFrameSchema

CONTRACTS: dict[dg.AssetKey, Contract] = {
    dg.AssetKey(["ingestion", "raw_flights"]): ingestion.raw_daily_model("flights"),
    dg.AssetKey(["ingestion", "raw_weather"]): ingestion.raw_daily_model("weather"),
    dg.AssetKey(["ingestion", "airlines"]): ingestion.Airlines,
    dg.AssetKey(["ingestion", "airports"]): ingestion.Airports,
    dg.AssetKey(["ingestion", "planes"]): ingestion.Planes,
    dg.AssetKey(["cleansing", "flights_clean"]): cleansing.FlightsClean,
    dg.AssetKey(["cleansing", "flights_quarantine"]): cleansing.Quarantine,
    dg.AssetKey(["cleansing", "weather_clean"]): cleansing.weather_clean_model,
    dg.AssetKey(["cleansing", "weather_quarantine"]): cleansing.Quarantine,
    dg.AssetKey(["transformation", "flight_features"]): transformation.FlightFeatures,
    dg.AssetKey(["aggregation", "carrier_daily_stats"]): aggregation.CarrierDailyStats,
    dg.AssetKey(["aggregation", "carrier_delay_7d"]): aggregation.CarrierDelay7d,
    dg.AssetKey(["aggregation", "route_delay_28d"]): aggregation.RouteDelay28d,
    dg.AssetKey(["aggregation", "origin_weather_daily"]): aggregation.OriginWeatherDaily,
    dg.AssetKey(["training", "flight_delay_training_set"]): training.FlightDelayTrainingSet,
}


def schema_of(contract: Contract) -> pa.DataFrameSchema:
    """The contract as a pandera schema object."""
    return contract.to_schema() if isinstance(contract, type) else contract


def table_schema(key: dg.AssetKey) -> dg.TableSchema:
    """The contract of ``key`` as ``dagster/column_schema``: types, descriptions, rules."""
    schema = schema_of(CONTRACTS[key])
    columns = [
        dg.TableColumn(
            name,
            str(column.dtype),
            description=column.description,
            constraints=dg.TableColumnConstraints(
                nullable=column.nullable,
                unique=column.unique,
                other=[str(check.error or check.name) for check in column.checks],
            ),
        )
        for name, column in schema.columns.items()
    ]
    unique = list(schema.unique or [])
    return dg.TableSchema(
        columns=columns,
        constraints=dg.TableConstraints(other=[f"unique together: {', '.join(unique)}"])
        if unique
        else None,
    )
