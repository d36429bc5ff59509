"""The audit log: append-only, hash-chained entries of every change to the feature store.

One JSON object per line in ``<home>/audit.jsonl``::

    {"seq": 7, "at": "...", "who": "ana", "action": "rollback", "subject": "...",
     "reason": "...", "details": {...}, "prev": "<hash of entry 6>", "hash": "<this entry's>"}

``hash`` is the SHA-256 of the entry's other fields (canonical JSON), and each entry holds its
predecessor's, so an edited, removed or reordered entry breaks the chain at that entry. The newest
entry's sequence number and hash are also kept in ``<home>/audit.head``, which catches a removed
last entry. (Anyone who can rewrite both files can forge a consistent log; ship the head to a
place they cannot write for tamper-proofing, e.g. a signed manifest or a ticket.) Appends hold an
exclusive file lock, so processes (runs, sensors, the CLI) append in turn.

Actions: ``definition.added`` and ``definition.changed`` (an asset's code version or contract,
seen by the ``feature_definitions`` sensor or ``feature-assets audit sync``), ``gate.failed`` (a
materialisation held back by a blocking check), ``rollback``, ``breaker.reset``,
``training_set.published``, ``promotion``.
"""

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
USER_ENV_VAR = "FEATURE_ASSETS_USER"


def who(given: str | None = None) -> str:
    """Who acts: ``given``, else ``$FEATURE_ASSETS_USER``, else the OS user."""
    return given or os.environ.get(USER_ENV_VAR) or getpass.getuser()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 of an entry's fields other than ``hash``, as canonical JSON."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def head_path(log: Path) -> Path:
    """Where the newest entry's sequence number and hash are kept beside ``log``."""
    return log.with_suffix(".head")


@contextmanager
def _locked(log: Path) -> Iterator[None]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{log}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def entries(log: Path) -> list[dict[str, Any]]:
    """Every entry, in file order (an unreadable line is returned as ``{"_line": text}``)."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            found.append({"_line": line})
    return found


def _last(log: Path) -> dict[str, Any] | None:
    """The newest entry, read from the end of the file."""
    if not log.exists() or log.stat().st_size == 0:
        return None
    with log.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        block = min(size, 1 << 16)
        while True:
            f.seek(size - block)
            lines = f.read(block).rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or block == size:
                return json.loads(lines[-1])
            block = min(size, block * 4)


def append(
    log: Path,
    action: str,
    subject: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Add one entry after the newest; returns it (with its ``seq`` and ``hash``)."""
    with _locked(log):
        last = _last(log)
        entry: dict[str, Any] = {
            "seq": (last["seq"] + 1) if last else 1,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "who": who(by),
            "action": action,
            "subject": subject,
            "reason": reason,
            "details": json.loads(json.dumps(details or {}, default=str)),
            "prev": last["hash"] if last else GENESIS,
        }
        entry["hash"] = entry_hash(entry)
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        head = head_path(log)
        aside = head.with_name(f".{head.name}.tmp")
        aside.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}))
        aside.replace(head)
    return entry


@dataclass(frozen=True)
class Broken:
    """The first entry that does not hold: its position (1-based line), seq, and what is wrong."""

    line: int
    seq: Any
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq} (line {self.line}): {self.problem}"


def verify(log: Path) -> tuple[int, Broken | None]:
    """Check the chain; returns the number of entries and the first broken one (or None)."""
    found = entries(log)
    prev, expected_seq = GENESIS, 1
    for line, entry in enumerate(found, start=1):
        seq = entry.get("seq", "?")
        if "_line" in entry:
            return len(found), Broken(line, "?", "not a JSON entry")
        if entry.get("hash") != entry_hash(entry):
            return len(found), Broken(line, seq, "edited: its hash does not match its contents")
        if entry.get("prev") != prev or seq != expected_seq:
            later = [e.get("seq") for e in found[line:]]
            if expected_seq in later or (isinstance(seq, int) and seq < expected_seq):
                problem = f"out of order: entry {expected_seq} should come here"
            elif isinstance(seq, int) and seq > expected_seq:
                problem = f"entry {expected_seq} before it was removed"
            else:
                problem = "it does not follow the entry before it (the chain breaks here)"
            return len(found), Broken(line, seq, problem)
        prev, expected_seq = entry["hash"], expected_seq + 1
    head = head_path(log)
    if head.exists():
        recorded = json.loads(head.read_text())
        if recorded.get("hash") != prev:
            return len(found), Broken(
                len(found) + 1,
                recorded.get("seq"),
                f"missing: the log ends at entry {expected_seq - 1} but its head records "
                f"entry {recorded.get('seq')} (the newest entries were removed)",
            )
    elif found:
        return len(found), Broken(len(found) + 1, "?", f"the head file {head} is missing")
    return len(found), None


DEFINITION_ACTIONS = ("definition.added", "definition.changed", "definition.removed")


def definition_fingerprints(assets: Iterable[Any]) -> dict[str, dict[str, str]]:
    """What identifies each asset's definition: its code version and a hash of its contract."""
    import dagster as dg

    from feature_assets.lib.schemas import CONTRACTS, schema_of

    found = {}
    for assets_def in assets:
        if not isinstance(assets_def, dg.AssetsDefinition):
            continue
        for key in assets_def.keys:
            contract = CONTRACTS.get(key)
            found[key.to_user_string()] = {
                "code_version": assets_def.code_versions_by_key.get(key) or "",
                "contract": hashlib.sha256(str(schema_of(contract)).encode()).hexdigest()[:16]
                if contract is not None
                else "",
            }
    return found


def sync_definitions(
    log: Path, current: Mapping[str, Mapping[str, str]], reason: str, by: str | None = None
) -> list[dict[str, Any]]:
    """Audit every asset definition that is new, changed or gone since the log last saw it."""
    known: dict[str, Mapping[str, str] | None] = {}
    for entry in entries(log):
        if entry.get("action") in DEFINITION_ACTIONS:
            details = entry.get("details") or {}
            known[entry["subject"]] = details.get("after")
    appended = []
    for subject in sorted(set(current) | {s for s, after in known.items() if after}):
        before, after = known.get(subject), current.get(subject)
        if before == after:
            continue
        action = (
            "definition.added"
            if before is None
            else "definition.removed"
            if after is None
            else "definition.changed"
        )
        changed = sorted(
            k
            for k in {*(before or {}), *(after or {})}
            if (before or {}).get(k) != (after or {}).get(k)
        )
        details = {"before": before, "after": after, "changed": changed}
        appended.append(append(log, action, subject, reason, details, by=by))
    return appended
