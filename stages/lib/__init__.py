"""Importable, tested logic that the stage scripts call."""
