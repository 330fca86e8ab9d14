"""``macros`` in templates: date helpers Airflow users know."""

from __future__ import annotations

import datetime as _datetime
import json
import time
import uuid
from datetime import datetime, timedelta

__all__ = ["datetime", "ds_add", "ds_format", "json", "time", "timedelta", "uuid"]


def ds_add(ds: str, days: int) -> str:
    """``ds_add("2024-01-01", 5)`` -> ``"2024-01-06"`` (days may be negative)."""
    return (_datetime.date.fromisoformat(ds) + timedelta(days=days)).isoformat()


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds_format("2024-01-05", "%Y-%m-%d", "%d/%m/%Y")`` -> ``"05/01/2024"``."""
    return datetime.strptime(ds, input_format).strftime(output_format)
