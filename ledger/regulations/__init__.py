"""Copies of the regulation texts the built-in packs quote (package data)."""
