"""The built-in policy packs, one JSON file per pack version (package data)."""
