"""Markdown formatting of the report's tables and intervals."""

import pandas as pd


def table(frame: pd.DataFrame, index: bool = False, floatfmt: str | list[str] = ".4f") -> str:
    """Markdown table: floats to 4 decimals (or `floatfmt`, one per column), integers as
    integers, missing cells empty."""
    cells = frame.astype(object).where(frame.notna(), None)  # object cells keep ints apart from floats
    return cells.to_markdown(index=index, floatfmt=floatfmt, missingval="")


def interval(low: float, high: float) -> str:
    return f"[{low:.4f}, {high:.4f}]"
