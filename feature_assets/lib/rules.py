"""Row rules: named predicates that split a frame into rows that pass and rows to quarantine.

A quarantined row is never dropped silently: it keeps its partition, the rules it broke (with the
column each rule is about) and its original producer values as JSON. ``contract_rules`` builds the
rules from a table's pandera contract, so that the contract is stated once.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from polars._typing import ClosedInterval

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


def _broken_and_words(column: str, check: pa.Check) -> tuple[pl.Expr, str]:
    """A pandera column check as (the polars test a row breaks, the rule in words)."""
    value = pl.col(column)
    stats = check.statistics
    match check.name:
        case "in_range":
            low, high = stats["min_value"], stats["max_value"]
            left, right = stats.get("include_min", True), stats.get("include_max", True)
            closed: ClosedInterval = (
                ("both" if right else "left") if left else ("right" if right else "none")
            )
            return ~value.is_between(low, high, closed=closed), f"within [{low}, {high}]"
        case "greater_than":
            return value <= stats["min_value"], f"> {stats['min_value']}"
        case "greater_than_or_equal_to":
            return value < stats["min_value"], f">= {stats['min_value']}"
        case "less_than":
            return value >= stats["max_value"], f"< {stats['max_value']}"
        case "less_than_or_equal_to":
            return value > stats["max_value"], f"<= {stats['max_value']}"
        case "str_length":
            length = value.str.len_chars()
            low = stats.get("exact_value") or stats.get("min_value")
            high = stats.get("exact_value") or stats.get("max_value")
            broken = pl.lit(False)
            broken = broken | (length < low) if low is not None else broken
            broken = broken | (length > high) if high is not None else broken
            return broken, f"{low}..{high} characters long"
        case "str_matches":  # pandera matches at the start, as re.match does
            pattern = stats["pattern"]
            anchored = pattern if pattern.startswith("^") else f"^(?:{pattern})"
            return ~value.str.contains(anchored), f"matching {pattern}"
        case "str_contains":
            return ~value.str.contains(stats["pattern"]), f"containing {stats['pattern']}"
        case "str_startswith":
            return ~value.str.starts_with(stats["string"]), f"starting with {stats['string']!r}"
        case "str_endswith":
            return ~value.str.ends_with(stats["string"]), f"ending with {stats['string']!r}"
        case "equal_to":
            return value != stats["value"], f"= {stats['value']}"
        case "not_equal_to":
            return value == stats["value"], f"!= {stats['value']}"
        case "notin":
            forbidden = list(stats["forbidden_values"])
            return value.is_in(forbidden), f"none of {forbidden}"
        case "isin":
            allowed = list(stats["allowed_values"])
            return ~value.is_in(allowed), f"one of {allowed}"
        case _:
            raise ValueError(
                f"no row rule for pandera check {check.name} on column {column}: "
                "add it to feature_assets.lib.rules or state the rule by hand"
            )


def contract_rules(schema: pa.DataFrameSchema, columns: Collection[str]) -> list[RowRule]:
    """The row rules of a contract, for ``columns`` (the ones a row carries before cleansing).

    Each column check of the pandera ``schema`` becomes the rule ``<column>_<check>`` and each
    non-nullable column the rule ``<column>_not_null``; a null value breaks only the latter. The
    model is stated once: the quarantine and the blocking contract check agree by construction.
    """
    rules = []
    for name, column in schema.columns.items():
        if name not in columns:
            continue
        about = f" ({column.description})" if column.description else ""
        if not column.nullable:
            rules.append(
                RowRule(f"{name}_not_null", name, pl.col(name).is_null(), f"{name} is required")
            )
        for check in column.checks:
            broken, words = _broken_and_words(name, check)
            rules.append(
                RowRule(
                    f"{name}_{check.name}",
                    name,
                    broken & pl.col(name).is_not_null(),
                    f"{name} must be {words}{about}",
                )
            )
    return rules
