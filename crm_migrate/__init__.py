"""crm-migrate: shared contracts used by every stage (see docs/architecture.md)."""

__version__ = "0.1.0"
