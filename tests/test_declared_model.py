"""A matching model declared in config: person records (not companies), compared on declared fields."""
import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from crm_migrate.contracts import attribute_column
from crm_migrate.errors import ConfigError
from pipelines.config import load_config
from tests.test_resolve import A, B, customers
from transforms.declared_model import Comparison, DeclaredModel, declared_features
from transforms.match_features import match_features
from transforms.match_model import Encoded
from transforms.resolve import MatchSettings, resolve_customers

GIVEN = ["james", "olivia", "william", "charlotte", "jack", "amelia", "noah", "isla", "thomas", "mia", "henry", "grace",
         "lucas", "chloe", "oscar", "zoe", "leo", "ruby", "ethan", "emily"]
SURNAMES = ["smith", "jones", "williams", "brown", "wilson", "taylor", "johnson", "white", "martin", "anderson",
            "thompson", "nguyen", "thomas", "walker", "harris", "lee", "ryan", "robinson", "kelly", "king"]
COMPARISONS = [
    Comparison("given_name", "attributes.given_name", "jaro_winkler", (0.92, 0.8), True),
    Comparison("surname", "attributes.surname", "jaro_winkler", (0.92, 0.8), True),
    Comparison("birth", "attributes.birth", "levenshtein", (1, 2)),
    Comparison("member", "attributes.member", "levenshtein", (1,)),
    Comparison("postcode", "attributes.postcode", "exact"),
]
MODEL = DeclaredModel(COMPARISONS, [["given_name"], ["surname"], ["birth"], ["member"]])


def _typo(rng: random.Random, text: str) -> str:
    k = rng.randrange(len(text))
    return text[:k] + rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") + text[k + 1:]


def people(persons: int = 300, seed: int = 5) -> tuple[pl.DataFrame, dict[str, int]]:
    """Person records (1-3 per person, each copy with a typo or a missing value in one field) and the
    truth: source key -> person. Persons share names by design (20 x 20 names for 300 people)."""
    rng = random.Random(seed)
    rows, truth = [], {}
    for p in range(persons):
        base = {"given_name": rng.choice(GIVEN), "surname": rng.choice(SURNAMES),
                "birth": f"19{rng.randrange(40, 99)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}",
                "member": f"{rng.randrange(10**6, 10**7)}", "postcode": f"{rng.randrange(2000, 2030)}"}
        for copy in range(rng.choice((1, 2, 2, 3))):
            rec = dict(base)
            if copy:
                field = rng.choice(list(rec))
                rec[field] = None if rng.random() < 0.3 else _typo(rng, rec[field])
            key = f"p{p}-{copy}"
            truth[key] = p
            rows.append((key, rec))
    frame = customers([("people", key, " ".join(x for x in (r["given_name"], r["surname"]) if x), None, 10, None, None) for key, r in rows])
    attrs = pl.DataFrame({attribute_column(f): [r[f] for _, r in rows] for f in ("given_name", "surname", "birth", "member", "postcode")})
    return pl.concat([frame, attrs], how="horizontal"), truth


def _pairs(frame: pl.DataFrame, column: str, key: str = "_source_key") -> set[tuple[str, str]]:
    out = set()
    for keys in frame.group_by(column).agg(key)[key].to_list():
        keys = sorted(keys)
        out |= {(a, b) for n, a in enumerate(keys) for b in keys[n + 1:]}
    return out


def test_a_declared_model_finds_the_people_behind_typos_without_merging_namesakes():
    frame, truth = people()
    out = resolve_customers(frame, MatchSettings(MODEL.blocking_columns(), declared=MODEL))
    predicted = _pairs(out.clustered, "target_id")
    true = _pairs(pl.DataFrame({"_source_key": list(truth), "p": list(truth.values())}), "p")
    assert len(true) > 150
    assert predicted <= true  # no namesakes merged (300 people share 400 name combinations)
    assert len(predicted & true) / len(true) >= 0.97
    # The model is the declared one, learned from the data, and explains itself.
    assert list(out.model.levels) == ["given_name", "surname", "birth", "member", "postcode"]
    assert out.model.levels["birth"] == ("exact", "levenshtein <= 1", "levenshtein <= 2", "different")
    bits = out.model.as_dict()["bits"]
    assert bits["member"][0] > bits["postcode"][0] + 3 > 3 > 0 > bits["member"][-1]  # a member number says more than a postcode
    assert {"bits_birth", "level_member"} <= set(out.pairs.columns) and "bits_brand" not in out.pairs.columns
    merged = out.clustered.filter(pl.col("_match") == "probabilistic")
    assert merged.height and merged["_match_evidence"].str.contains(r"^p=[\d.]+: (given_name|surname|birth|member|postcode) ").all()


def test_levels_of_each_method():
    frame = pl.DataFrame({attribute_column("x"): ["martha", "marhta", "dwayne", "duane", None, "Martha ", "abcd", "abce"]})
    comparisons = [Comparison("jw", "attributes.x", "jaro_winkler", (0.95, 0.8)), Comparison("lev", "attributes.x", "levenshtein", (1, 2)),
                   Comparison("ratio", "attributes.x", "ratio", (80,)), Comparison("ex", "attributes.x", "exact"),
                   Comparison("r75", "attributes.x", "ratio", (75,))]
    features = declared_features(frame, comparisons)
    assert features[5, 0] == "martha"  # trimmed, lower-cased
    spec = DeclaredModel(comparisons, [["ex"]]).spec(identifiers=False)
    i, j = np.array([0, 0, 2, 0, 0, 0, 6, 4, 7]), np.array([5, 1, 3, 4, 2, 1, 7, 0, 6])
    levels, hard = spec.compare(Encoded(features), i, j)
    # martha=Martha; martha/marhta (JW 0.961, 2 edits, ratio 83); dwayne/duane (JW 0.84, 2 edits, ratio 73); missing; unlike
    # ...; abcd/abce (ratio exactly 75: a threshold is inclusive)
    assert levels[:, 0].tolist() == [0, 1, 2, -1, 3, 1, 2, -1, 2]
    assert levels[:, 1].tolist() == [0, 2, 2, -1, 3, 2, 1, -1, 1]
    assert levels[:, 2].tolist() == [0, 1, 2, -1, 2, 1, 2, -1, 2]
    assert levels[:, 3].tolist() == [0, 1, 1, -1, 1, 1, 1, -1, 1]
    assert levels[:, 4].tolist()[6:] == [1, -1, 1]  # either side missing: no evidence; either order
    assert not hard["different_identifiers"].any()


def test_credit_codes_keep_their_hard_rule_in_a_declared_model():
    frame = customers([("s", "1", "Tengfei", A, 10, None, None), ("s", "2", "Tengfei", B, 10, None, None),
                       ("s", "3", "Tengfei", A, 10, None, None)])
    model = DeclaredModel([Comparison("name", "name", "exact")], [["name"]])
    out = resolve_customers(frame, MatchSettings(model.blocking_columns(), declared=model))
    assert "identifier" in out.model.levels
    ids = dict(zip(out.clustered["_source_key"], out.clustered["target_id"]))
    assert ids["1"] == ids["3"] != ids["2"]
    assert out.candidates.height == 3 and out.model.as_dict()["bits"]["identifier"][1] < 0
    features = declared_features(frame, model.comparisons)
    encoded = Encoded(pl.concat([match_features(frame), features], how="horizontal"))
    levels, hard = model.spec(identifiers=True).compare(encoded, np.array([0, 0, 1]), np.array([1, 2, 2]))
    assert hard["different_identifiers"].tolist() == [True, False, True]
    assert levels[:, 0].tolist() == [1, 0, 1] and levels[:, 1].tolist() == [0, 0, 0]  # identifier first, then the declared ones


def _project(project, resolution: str, attributes: str = "") -> None:
    text = project.read_text(encoding="utf-8")
    project.write_text(text.replace("archive:", f"resolution:\n{resolution}archive:", 1), encoding="utf-8")
    if attributes:
        m = project.parent.parent / "mappings" / "erp_export_customer.yaml"
        m.write_text(m.read_text(encoding="utf-8") + f"attributes:\n{attributes}", encoding="utf-8")


def test_declared_comparisons_are_checked_where_they_are_written(project):
    _project(project, "  comparisons:\n    - {name: code, field: attributes.legacy_no, method: exact}\n")
    with pytest.raises(ConfigError, match=r"demo.yaml:\d+: resolution.comparisons\[0\].field: 'attributes.legacy_no' is neither"):
        load_config(project)


@pytest.mark.parametrize("comparison, message", [
    ("{name: a, field: name, method: levenshtein, thresholds: [2, 1]}", r"must be distinct and strongest first"),
    ("{name: a, field: name, method: jaro_winkler}", r"needs thresholds"),
    ("{name: a, field: name, method: jaro_winkler, thresholds: [92]}", r"between 0 and 1"),
    ("{name: a, field: name, method: soundex}", r"Input should be 'exact'"),
])
def test_a_malformed_comparison_is_refused(project, comparison, message):
    _project(project, f"  comparisons:\n    - {comparison}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(project)


def test_a_declared_model_from_config(project):
    _project(project, "  comparisons:\n    - {name: legacy_no, field: attributes.legacy_no, method: exact}\n"
                      "    - {name: name, field: name, method: ratio, thresholds: [90]}\n  blocking_rules: [[legacy_no], [m_brand]]\n",
             "  legacy_no: 单位编码\n")
    with pytest.raises(ConfigError, match=r"blocking_rules\[1\]\[0\]: 'm_brand' is not a comparison of resolution.comparisons"):
        load_config(project)
    text = project.read_text(encoding="utf-8").replace("[[legacy_no], [m_brand]]", "[[legacy_no], [name]]")
    project.write_text(text, encoding="utf-8")
    settings = load_config(project).config.resolution.match_settings()
    assert settings.blocking_rules == [["m_cmp_legacy_no"], ["m_cmp_name"]]
    assert [c.name for c in settings.declared.comparisons] == ["legacy_no", "name"]
    assert settings.as_dict()["declared"]["comparisons"][1]["thresholds"] == (90.0,)


def test_people_migrate_end_to_end_with_a_declared_model(tmp_path):
    """Two sources of person records (a CSV file, a SQLite table) carrying attributes, a declared
    model in the config, a real run: every record in the ledger once, the people merged as the truth says."""
    from pipelines.run import run_pipeline
    from tests.helpers import csv_file, project, sqlite_db

    frame, truth = people(persons=200, seed=9)
    fields = ("given_name", "surname", "birth", "member", "postcode")
    rows = [[key, *(frame[attribute_column(f)][n] for f in fields)] for n, key in enumerate(frame["_source_key"])]
    half = len(rows) // 2
    csv_file(tmp_path / "members.csv", ["member_key", *fields], rows[:half])
    url = sqlite_db(tmp_path / "old.sqlite", "CREATE TABLE m (member_key TEXT, given_name TEXT, surname TEXT, birth TEXT, member TEXT, postcode TEXT)",
                    *[f"INSERT INTO m VALUES ({', '.join(repr(v) if v is not None else 'NULL' for v in r)})" for r in rows[half:]])
    mapping = {"entity": "customer", "columns": {"name": "surname"}, "attributes": {f: f for f in fields}}
    resolution = {"comparisons": [{"name": c.name, "field": c.field, "method": c.method, "thresholds": list(c.thresholds),
                                   "term_frequency": c.term_frequency} for c in COMPARISONS],
                  "blocking_rules": MODEL.blocking_rules}
    config = project(tmp_path, [{"name": "csv_members", "kind": "csv", "entity": "customer", "path": "members.csv", "key": "member_key"},
                                {"name": "db_members", "kind": "sql", "entity": "customer", "url": url, "table": "m", "key": "member_key"}],
                     mappings={"customer": mapping}, resolution=resolution)
    manifest = run_pipeline(config)
    run_dir = manifest["run_dir"]
    ledger = pl.read_parquet(f"{run_dir}/ledger.parquet")
    assert sorted(ledger["source_key"]) == sorted(truth)  # every record once
    # No suite is configured: a copy without a surname (so without a name) joins its person by the other fields.
    kept = ledger.filter(pl.col("disposition") != "rejected")
    assert kept.height == ledger.height and frame[attribute_column("surname")].null_count() > 0
    predicted = _pairs(kept, "target_id", "source_key")
    true = _pairs(pl.DataFrame({"_source_key": kept["source_key"], "p": [truth[k] for k in kept["source_key"]]}), "p")
    assert predicted <= true and len(predicted) / len(true) >= 0.95
    model = json.loads(Path(run_dir, "resolution_model.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in model["settings"]["declared"]["comparisons"]] == [c.name for c in COMPARISONS]
    assert model["hard_rules"] == ["different_identifiers"] and list(model["model"]["levels"]) == [c.name for c in COMPARISONS]
