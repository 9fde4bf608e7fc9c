"""Readers that turn legacy sources into lineage-stamped polars frames. They read; they never clean."""
from extractors.base import Extracted, extract_source

__all__ = ["Extracted", "extract_source"]
