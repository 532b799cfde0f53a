"""SHA-256 of a file, read in 1 MiB blocks: how deliveries, snapshots, plans and score files are
fingerprinted in run records and the audit trail."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
