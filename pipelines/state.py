"""Run state kept between runs: the watermark of each incremental source, and the customer records
of the last run (`state/customers.parquet`) so that a delta run builds golden records from every
member, not only from the changed ones.

Stored under `<output_dir>/` and written only after a successful, committed run, so a failed or dry
run never moves a watermark."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass
class RunState:
    path: Path
    watermarks: dict[str, dict] = field(default_factory=dict)  # source -> {column, value, run_id}

    @classmethod
    def load(cls, output_dir: Path) -> "RunState":
        path = output_dir / "state.json"
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, data.get("watermarks", {}))

    def since(self, source: str, column: str) -> str | None:
        entry = self.watermarks.get(source)
        return entry["value"] if entry and entry.get("column") == column else None

    def advance(self, source: str, column: str, value: str | None, run_id: str) -> None:
        if value is not None:
            self.watermarks[source] = {"column": column, "value": value, "run_id": run_id}

    @property
    def snapshot_path(self) -> Path:
        return self.path.parent / "state" / "customers.parquet"

    def customer_snapshot(self) -> pl.DataFrame:
        """The kept customer records of the last committed run (empty before the first)."""
        return pl.read_parquet(self.snapshot_path) if self.snapshot_path.exists() else pl.DataFrame()

    def save_customer_snapshot(self, frame: pl.DataFrame) -> None:
        self.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot_path.with_suffix(".tmp")
        frame.write_parquet(tmp)
        os.replace(tmp, self.snapshot_path)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"watermarks": self.watermarks}, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old state
