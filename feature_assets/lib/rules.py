"""Row rules: named predicates that split a frame into rows that pass and rows to quarantine.

A quarantined row is never dropped silently: it keeps its partition, the rules it broke (with the
column each rule is about) and its original producer values as JSON.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

QUARANTINE_SCHEMA = pl.Schema(
    {
        "landing_date": pl.Date,
        "source_file": pl.String,
        "rule": pl.String,
        "columns": pl.String,
        "detail": pl.String,
        "record": pl.String,
    }
)


@dataclass(frozen=True)
class RowRule:
    """A row breaks ``name`` when ``broken`` is true; ``column`` names what it is about."""

    name: str
    column: str
    broken: pl.Expr
    detail: str


def split(
    frame: pl.LazyFrame,
    rules: Sequence[RowRule],
    record_columns: Sequence[str],
    unique_key: Sequence[str] = (),
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Split ``frame`` into (passing rows, quarantine rows).

    A row that breaks several rules is quarantined once, listing every rule. When ``unique_key``
    is given, the first row of each key passes and later copies are quarantined as duplicates.
    A null rule result counts as broken: an unknown is not a pass.
    """
    rules = list(rules)
    if unique_key:
        rules.append(
            RowRule(
                "unique_key",
                ",".join(unique_key),
                pl.int_range(pl.len()).over(unique_key) > 0,
                f"a row with the same ({', '.join(unique_key)}) came earlier in the delivery",
            )
        )
    flags = [f"_broken_{i}" for i in range(len(rules))]
    flagged = frame.with_columns(
        rule.broken.fill_null(True).alias(flag) for flag, rule in zip(flags, rules, strict=True)
    )
    any_broken = pl.any_horizontal(flags)

    def listed(attr: str) -> pl.Expr:
        return pl.concat_str(
            [
                pl.when(pl.col(flag)).then(pl.lit(getattr(rule, attr)))
                for flag, rule in zip(flags, rules, strict=True)
            ],
            separator="; ",
            ignore_nulls=True,
        )

    passing = flagged.filter(~any_broken).drop(flags)
    quarantine = flagged.filter(any_broken).select(
        "landing_date",
        "source_file",
        rule=listed("name"),
        columns=listed("column"),
        detail=listed("detail"),
        record=pl.struct(record_columns).struct.json_encode(),
    )
    return passing, quarantine
