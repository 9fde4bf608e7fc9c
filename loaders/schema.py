"""Target tables as SQLAlchemy Core objects, built from the target mapping."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from transforms.mapping import ColumnSpec


def sa_type(col: ColumnSpec) -> sa.types.TypeEngine:
    return {
        "string": lambda: sa.String(col.length or 255),
        "integer": sa.BigInteger,
        "decimal": lambda: sa.Numeric(col.precision, col.scale, asdecimal=True),
        "float": sa.Float,
        "date": sa.Date,
        # MySQL/MariaDB's DATETIME drops microseconds unless told: a re-run would see every such row changed
        "datetime": lambda: sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"),
        "boolean": sa.Boolean,
    }[col.type]()


def target_table(metadata: sa.MetaData, name: str, key: str, columns: list[ColumnSpec]) -> sa.Table:
    cols = [sa.Column(c.name, sa_type(c), primary_key=(c.name == key), nullable=(c.name != key)) for c in columns]
    return sa.Table(name, metadata, *cols)


def ledger_table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("source", sa.String(60), nullable=False),
        sa.Column("source_key", sa.String(200)),
        sa.Column("source_row", sa.BigInteger),
        sa.Column("disposition", sa.String(10), nullable=False),
        sa.Column("target_id", sa.String(40)),
        sa.Column("reason", sa.Text),
        sa.Column("flags", sa.Text),
        sa.Column("customer_target_id", sa.String(40)),
        sa.Index(f"ix_{name}_run", "run_id", "entity", "source"),
        sa.Index(f"ix_{name}_key", "source", "source_key"),
    )


def run_tables(specs: dict[str, tuple[str, str, list[ColumnSpec]]], ledger_name: str) -> tuple[list[sa.Table], dict[str, dict]]:
    """The tables a run writes (the mapped target tables and the ledger), and per table the mapping's
    column types (type, length, precision, scale) for the preflight comparison."""
    md = sa.MetaData()
    tables = [target_table(md, name, key, cols) for name, key, cols in specs.values()]
    tables.append(ledger_table(md, ledger_name))
    types = {name: {c.name: (c.type, c.length, c.precision, c.scale) for c in cols} for name, _, cols in specs.values()}
    return tables, types
