"""Pre-execution validation of the asset graph, before any run starts.

Finds what would otherwise fail mid-run: a dependency cycle, an input that no asset produces, an
asset without a contract, and a consumer that reads columns its producer's contract does not have
(or a partition column the asset's own contract lacks).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from feature_assets.lib.schemas import Contract, schema_of
from feature_assets.lib.warehouse import PARTITION_EXPR


@dataclass(frozen=True)
class Problem:
    """One reason the graph would fail: which asset, what kind, in words."""

    asset: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.asset}: {self.kind}: {self.message}"


def find_cycle(deps: Mapping[dg.AssetKey, Sequence[dg.AssetKey]]) -> list[dg.AssetKey] | None:
    """A dependency cycle as a path (first == last), or None."""
    state: dict[dg.AssetKey, str] = {}
    path: list[dg.AssetKey] = []

    def visit(key: dg.AssetKey) -> list[dg.AssetKey] | None:
        state[key] = "visiting"
        path.append(key)
        for upstream in deps.get(key, ()):
            if state.get(upstream) == "visiting":
                return [*path[path.index(upstream) :], upstream]
            if upstream not in state and (cycle := visit(upstream)):
                return cycle
        path.pop()
        state[key] = "done"
        return None

    for key in sorted(deps, key=lambda k: k.to_user_string()):
        if key not in state and (cycle := visit(key)):
            return cycle
    return None


def _columns_read(asset: dg.AssetsDefinition) -> Iterable[tuple[dg.AssetKey, list[str]]]:
    """(upstream key, columns) for each input that names the columns it reads."""
    for input_name, upstream in asset.keys_by_input_name.items():
        columns = asset.node_def.input_def_named(input_name).metadata.get("columns")
        if columns:
            yield upstream, list(columns)


def problems(
    assets: Sequence[dg.AssetsDefinition], contracts: Mapping[dg.AssetKey, Contract]
) -> list[Problem]:
    """Every problem of the graph made of ``assets`` with their ``contracts``."""
    found: list[Problem] = []
    specs = [spec for asset in assets for spec in asset.specs]
    produced = {spec.key for spec in specs}
    deps = {spec.key: [dep.asset_key for dep in spec.deps] for spec in specs}
    if cycle := find_cycle(deps):
        found.append(
            Problem(
                cycle[0].to_user_string(),
                "cycle",
                " -> ".join(k.to_user_string() for k in cycle),
            )
        )
    for spec in specs:
        name = spec.key.to_user_string()
        for upstream in deps[spec.key]:
            if upstream not in produced:
                found.append(
                    Problem(
                        name,
                        "missing input",
                        f"reads {upstream.to_user_string()}, which no asset produces",
                    )
                )
        if spec.key not in contracts:
            found.append(Problem(name, "no contract", "add a pandera model to lib/schemas"))
            continue
        partition_column = spec.metadata.get(PARTITION_EXPR)
        if partition_column and partition_column not in schema_of(contracts[spec.key]).columns:
            found.append(
                Problem(
                    name, "schema", f"partition column {partition_column!r} is not in its contract"
                )
            )
    for asset in assets:
        for upstream, columns in _columns_read(asset):
            if upstream not in contracts:
                continue
            available = schema_of(contracts[upstream]).columns
            if missing := [c for c in columns if c not in available]:
                for key in asset.keys:
                    found.append(
                        Problem(
                            key.to_user_string(),
                            "schema",
                            f"reads columns {missing} of {upstream.to_user_string()}, whose "
                            f"contract has {list(available)}",
                        )
                    )
    return found
