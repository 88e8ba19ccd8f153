"""The write side: what may be written to the ledger, checked and stored."""

__version__ = "0.2.0"
