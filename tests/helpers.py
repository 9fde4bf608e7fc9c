"""Small builders for test inputs."""
from __future__ import annotations

from pathlib import Path

import yaml


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
