"""The write side: what may be written to the ledger, checked and stored."""

__version__ = "0.1.0"
