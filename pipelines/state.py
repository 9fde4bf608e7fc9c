"""Run state kept between runs: the watermark of each incremental source.

Stored in `<output_dir>/state.json` and written only after a successful, committed run, so a failed
or dry run never moves a watermark."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


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

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"watermarks": self.watermarks}, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old state
