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


ROOT = Path(__file__).resolve().parent.parent
CUSTOMER_MAPPING = {"entity": "customer", "columns": {"name": "客户名称", "credit_code": "统一社会信用代码", "phone": "联系电话", "address": "地址"}}
OPPORTUNITY_MAPPING = {"entity": "opportunity",
                       "columns": {"customer_source_key": "客户编号", "name": "商机名称", "amount": "金额", "stage": "阶段"},
                       "value_maps": {"stage": str(ROOT / "mappings" / "values" / "stage.yaml")}}


def project(root: Path, sources: list[dict], target_url: str | None = None, mappings: dict | None = None, **top) -> Path:
    """A migration project in `root` as a user writes one from docs/configuration.md: config.yaml, a
    mapping per entity (`mappings` overrides them by name), the bundled target mapping, a SQLite
    target unless `target_url`, and a gate that lets every record through unless `top` says otherwise.
    Each source names its mapping by entity (`mapping: customer`) or by file; paths are relative to root."""
    root.mkdir(parents=True, exist_ok=True)
    files = {"customer": CUSTOMER_MAPPING, "opportunity": OPPORTUNITY_MAPPING, **(mappings or {})}
    for name, data in files.items():
        write_yaml(root / f"{name}.yaml", data)
    srcs = [{**s, "mapping": f"{s.get('mapping', s['entity'])}.yaml"} for s in sources]
    config = {"project": "test", "output_dir": "out", "sources": srcs,
              "target": {"url": target_url or f"sqlite:///{root / 'target.sqlite'}", "mapping": str(ROOT / "mappings" / "target_crm.yaml")},
              "validation": {"gates": {"max_reject_rate": 1.0}}} | top
    return write_yaml(root / "config.yaml", config)


def csv_file(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def xlsx_file(path: Path, sheets: dict[str, list[list]]) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    ws.write(r, c, value)
    wb.close()
    return path


def run_dirs(root: Path) -> list[Path]:
    out = root / "out"
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name != "state") if out.exists() else []


def make_read_only(path: Path) -> bool:
    """Make a file read-only for this process: chmod for a normal user; for root (who writes through
    chmod), the immutable attribute. False when that cannot be done here."""
    import os
    import subprocess

    if os.geteuid() == 0:
        return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    path.chmod(0o444)
    return True


def undo_read_only(path: Path) -> None:
    import os
    import subprocess

    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    if path.exists():
        path.chmod(0o644)


def demo_config(root: Path, data: Path | None = None, **top) -> Path:
    """The demo config with every path absolute, its output and a SQLite target under `root`; `top`
    adds or replaces top-level keys (phases:, operations:). `data`: a folder data_samples/generate.py
    wrote, read instead of the bundled demo data."""
    base = ROOT / "data_samples"
    doc = yaml.safe_load((base / "demo.yaml").read_text(encoding="utf-8"))

    def ab(p: str) -> str:
        if data is not None and p.startswith("demo/"):
            return str((data / p.removeprefix("demo/")).resolve())
        return str((base / p).resolve())

    doc["output_dir"] = str(root / "out")
    for s in doc["sources"]:
        s["mapping"] = ab(s["mapping"])
        if "path" in s:
            s["path"] = ab(s["path"])
        if "url" in s:
            s["url"] = "sqlite:///" + ab(s["url"].removeprefix("sqlite:///"))
    doc["target"] = {"url": f"sqlite:///{root / 'target.sqlite'}", "mapping": ab(doc["target"]["mapping"])}
    doc["validation"]["suites"] = {stage: {e: ab(p) for e, p in m.items()} for stage, m in doc["validation"]["suites"].items()}
    doc.update(top)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "demo.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
