"""`feature-assets validate`: the graph's problems are found before any run starts."""

import dagster as dg
import pandera.polars as pa
import polars as pl
import pytest

from feature_assets import cli
from feature_assets.lib.schemas import CONTRACTS
from feature_assets.lib.validate import problems
from feature_assets_tests.conftest import ALL_ASSETS


class Days(pa.DataFrameModel):
    day: pl.Date
    n: pl.Int32


def test_the_real_graph_has_no_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert problems(ALL_ASSETS, CONTRACTS) == []
    assert cli.main(["validate"]) == 0
    assert capsys.readouterr().out == "ok: 15 assets, 19 dependencies, every contract met\n"


def test_a_cycle_is_named_as_a_path() -> None:
    @dg.asset(key=["t", "a"], deps=[dg.AssetKey(["t", "c"])])
    def a() -> None: ...

    @dg.asset(key=["t", "b"], deps=[dg.AssetKey(["t", "a"])])
    def b() -> None: ...

    @dg.asset(key=["t", "c"], deps=[dg.AssetKey(["t", "b"])])
    def c() -> None: ...

    contracts = {key: Days for key in (a.key, b.key, c.key)}
    (problem,) = problems([a, b, c], contracts)
    assert str(problem) == "t/a: cycle: t/a -> t/c -> t/b -> t/a"


def test_an_input_nothing_produces_and_an_asset_without_contract() -> None:
    @dg.asset(key=["t", "b"], deps=[dg.AssetKey(["t", "gone"])])
    def b() -> None: ...

    assert [str(p) for p in problems([b], {})] == [
        "t/b: missing input: reads t/gone, which no asset produces",
        "t/b: no contract: add a pandera model to lib/schemas",
    ]


def test_reading_a_column_the_producer_does_not_promise() -> None:
    @dg.asset(key=["t", "up"], metadata={"partition_expr": "day"})
    def up() -> None: ...

    @dg.asset(
        key=["t", "down"],
        ins={"rows": dg.AssetIn(key=["t", "up"], metadata={"columns": ["day", "carrier"]})},
        metadata={"partition_expr": "date"},
    )
    def down(rows: pl.DataFrame) -> None: ...

    found = [str(p) for p in problems([up, down], {up.key: Days, down.key: Days})]
    assert found == [
        "t/down: schema: partition column 'date' is not in its contract",
        "t/down: schema: reads columns ['carrier'] of t/up, whose contract has ['day', 'n']",
    ]
