"""Rewrite rules, grouped by purpose. Each module appends Rules to its own list."""
