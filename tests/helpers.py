"""Small builders for test inputs."""
from __future__ import annotations

from pathlib import Path

import yaml


def sqlite_db(path: Path, *statements: str) -> str:
    """A SQLite file holding what the statements create; returns its URL."""
    import sqlalchemy as sa

    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()
    return url


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
