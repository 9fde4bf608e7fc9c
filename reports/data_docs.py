"""Great Expectations' Data Docs of a run, built into the run folder (`data_docs/index.html`).

Data Docs load their styles and scripts from CDNs, so report.html shows the same results itself,
readable offline; these pages are GX's own view for those who know it."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path


def build_data_docs(run_dir: Path, run_id: str, outcomes: list) -> Path | None:
    """Render the validation results of `outcomes` (SuiteOutcome) into run_dir/data_docs; the index
    page, or None when no suite ran. The ephemeral context serves many runs in one process: the
    site and the stored results are removed again, so one run's pages never show another's."""
    outcomes = [o for o in outcomes if o.result is not None]
    if not outcomes:
        return None
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier, ValidationResultIdentifier

    from expectations.runner import _context

    ctx = _context()
    site = f"run_{run_id}"
    base = run_dir / "data_docs"
    ctx.add_data_docs_site(site, {"class_name": "SiteBuilder",
                                  "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(base)},
                                  "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    store = ctx.validation_results_store
    keys = []
    try:
        when = datetime.now(timezone.utc)
        for o in outcomes:
            key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=o.suite),
                                             run_id=RunIdentifier(run_name=run_id, run_time=when),
                                             batch_identifier=f"{o.stage or 'suite'}-{o.entity or o.suite}")
            store.set(key, o.result)
            keys.append(key)
        ctx.build_data_docs(site_names=[site])
    finally:
        for key in keys:
            store.remove_key(key)
        ctx.delete_data_docs_site(site)
    index = base / "index.html"
    return index if index.exists() else None
