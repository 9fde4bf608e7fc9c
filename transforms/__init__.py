"""Pure transforms over polars frames: normalizers, resolution, mapping. No I/O here."""
