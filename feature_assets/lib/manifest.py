"""Training-set manifests: exactly what a training set was built from, signed.

A manifest is a JSON file beside the training set's parquet file::

    {"kind": "feature_assets/training_set", "file": "train.parquet", "rows": 21523,
     "content_hash": "...", "first": "2013-01-08", "last": "2013-01-31", "lead_hours": 2.0,
     "features": [{"asset": ..., "partition": ..., "version": 3, "data_version": ...}, ...],
     "code": {"feature_assets": "0.1.0", "code_versions": {...}}, "libraries": {...},
     "created_at": ..., "created_by": ...,
     "signature": {"algorithm": "HMAC-SHA256", "key_id": "...", "value": "..."}}

The signature is an HMAC-SHA256 of every other field (canonical JSON) with the key in
``$FEATURE_ASSETS_SIGNING_KEY``; ``key_id`` (the first 12 hex digits of the key's SHA-256) tells
which key signed, never the key. ``content_hash`` is ``registry.content_hash`` of the rows
(portable, whatever their order), so a rebuild that yields the same rows yields the same hash.
"""

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from feature_assets.lib import registry, settings

KIND = "feature_assets/training_set"
ALGORITHM = "HMAC-SHA256"


class ManifestError(ValueError):
    """A manifest cannot be signed, read or trusted."""


def signing_key(environ: Mapping[str, str] = os.environ) -> bytes:
    """The signing key from ``$FEATURE_ASSETS_SIGNING_KEY``; an error that says how to set it."""
    key = environ.get(settings.SIGNING_KEY_ENV_VAR, "")
    if len(key) < 16:
        raise ManifestError(
            f"set {settings.SIGNING_KEY_ENV_VAR} to a secret of at least 16 characters to sign "
            "and verify training-set manifests, e.g. "
            f"export {settings.SIGNING_KEY_ENV_VAR}=$(python3 -c "
            "'import secrets; print(secrets.token_hex(32))')"
        )
    return key.encode()


def _canonical(body: Mapping[str, Any]) -> bytes:
    fields = {k: v for k, v in body.items() if k != "signature"}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def key_id(key: bytes) -> str:
    """Names a key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:12]


def sign(body: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    """The manifest with its signature."""
    value = hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()
    return {**body, "signature": {"algorithm": ALGORITHM, "key_id": key_id(key), "value": value}}


def write(path: Path, manifest: Mapping[str, Any]) -> None:
    """Write a manifest atomically (aside, then renamed)."""
    aside = path.with_name(f".{path.name}.tmp")
    aside.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    aside.replace(path)


def read(path: Path) -> dict[str, Any]:
    """A manifest file's contents."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path}: not a readable manifest ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise ManifestError(f"{path}: not a training-set manifest (kind {KIND!r})")
    return manifest


def data_file(path: Path, manifest: Mapping[str, Any]) -> Path:
    """The training set's file, named relative to its manifest."""
    return path.parent / manifest["file"]


def problems(path: Path, key: bytes) -> list[str]:
    """What is wrong with a manifest and its file: empty when both are as signed."""
    manifest = read(path)
    found = []
    signature = manifest.get("signature") or {}
    expected = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    if signature.get("algorithm") != ALGORITHM:
        found.append(f"{path}: unsigned or not {ALGORITHM}")
    elif not hmac.compare_digest(str(signature.get("value", "")), expected):
        signed_by = signature.get("key_id")
        hint = (
            f" (signed with key {signed_by}, not this key {key_id(key)})"
            if signed_by != key_id(key)
            else ""
        )
        found.append(f"{path}: the signature does not match the manifest: it was changed{hint}")
    file = data_file(path, manifest)
    if not file.exists():
        found.append(f"{file}: missing")
        return found
    try:
        rows = pl.read_parquet(file)
    except Exception as e:  # a truncated or foreign file
        found.append(f"{file}: unreadable as parquet ({type(e).__name__}: {e})")
        return found
    if rows.height != manifest.get("rows"):
        found.append(f"{file}: {rows.height} rows, the manifest says {manifest.get('rows')}")
    actual = registry.content_hash(rows)
    if actual != manifest.get("content_hash"):
        found.append(
            f"{file}: content hash {actual[:12]} differs from the manifest's "
            f"{str(manifest.get('content_hash'))[:12]}: the file was changed"
        )
    return found
