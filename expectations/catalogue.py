"""What `crm-migrate suites` lists: the suites a config names (or the bundled ones) and the
expectation types crm-migrate adds."""
from __future__ import annotations

from pathlib import Path

from expectations.runner import SUITES_DIR, suite_parameters, suite_rules


def suite_listing(config: Path | None) -> list[dict]:
    """Per suite: name, stage, entity, file, rules, gate, and the values its `$PARAMETER`s take (the
    suite's defaults under the config's `validation.parameters`)."""
    overrides: dict = {}
    if config is None:
        entries = [("bundled", p.stem, p) for p in sorted(SUITES_DIR.glob("*.json"))]
    else:
        from pipelines.config import load_config

        cfg = load_config(config).config
        entries = [(stage, entity, path) for stage, by in cfg.validation.suites.items() for entity, path in by.items()]
        overrides = cfg.validation.parameters
    out = []
    for stage, entity, path in entries:
        name, rules, gate = suite_rules(path)
        used = set().union(*(r.parameters for r in rules))
        values = {**suite_parameters(path), **overrides}
        out.append({"suite": name, "stage": stage, "entity": entity, "path": str(path), "rules": rules, "gate": gate,
                    "parameters": {k: values.get(k) for k in sorted(used)}})
    return out


def custom_types() -> list[tuple[str, str]]:
    """(suite file type, first sentence of its docstring) of each custom expectation."""
    from expectations.runner import _context

    _context()
    from expectations.custom import CUSTOM_EXPECTATIONS, type_name

    return [(type_name(c), " ".join((c.__doc__ or "").split()).split(". ")[0].rstrip(".") + ".") for c in CUSTOM_EXPECTATIONS]
