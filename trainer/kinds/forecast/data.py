"""The series a forecast experiment learns: one of statsmodels' bundled datasets, or a CSV file of the user's.

A series is a float64 array, oldest first, with a text label per observation (its month or year, or its row)
for the figures. Every mistake in a CSV file is one ConfigError naming the file, the line and what was expected.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from statsmodels.datasets import co2 as co2_dataset
from statsmodels.datasets import sunspots as sunspots_dataset

from trainer.plugin import ConfigError, sha256_bytes

from . import SeriesConfig

MAX_CSV_BYTES = 256 << 20  # a series of a few million rows; anything larger is not what this small model is for


@dataclass
class Series:
    values: np.ndarray
    """float64, oldest first"""
    labels: list[str]
    """what each observation is called on a figure's time axis (a month, a year, a row number)"""
    name: str
    """what the values are, for axis labels"""
    unit: str
    """their unit ("" when unknown)"""
    step: str
    """what one step of the series is (month, year, observation)"""
    record: dict
    """the run record's data section, before the splits are added"""

    @property
    def axis_label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.values.astype("<f8").tobytes())


def load(cfg: SeriesConfig, source: str) -> Series:
    return read_csv(cfg, source) if cfg.path is not None else BUNDLED[cfg.dataset]()


def co2() -> Series:
    """Monthly means of the weekly Mauna Loa record: weeks averaged into their calendar month, so the season is a
    whole number of steps (12) and most gaps disappear; the months with no weekly reading at all (5, all before
    1965) are interpolated linearly between their neighbours and listed in the record."""
    weekly = co2_dataset.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean()
    empty = [d.strftime("%Y-%m") for d in monthly.index[monthly.isna().to_numpy()]]
    values = monthly.interpolate(method="linear").to_numpy(dtype=np.float64)
    labels = [d.strftime("%Y-%m") for d in monthly.index]
    record = {"dataset": "co2", "source": "statsmodels.datasets.co2: atmospheric CO2 at Mauna Loa, weekly, "
              "March 1958 to December 2001 (Keeling et al.)", "resampled": "monthly means of the weekly readings",
              "weekly_readings": int(weekly.notna().sum()), "weeks_missing": int(weekly.isna().sum()),
              "interpolated_months": empty}
    return Series(values, labels, "atmospheric CO2", "ppm", "month", record)


def sunspots() -> Series:
    frame = sunspots_dataset.load_pandas().data
    labels = [str(int(year)) for year in frame["YEAR"]]
    record = {"dataset": "sunspots", "source": "statsmodels.datasets.sunspots: yearly sunspot number, 1700-2008"}
    return Series(frame["SUNACTIVITY"].to_numpy(dtype=np.float64), labels, "sunspot number", "", "year", record)


BUNDLED = {"co2": co2, "sunspots": sunspots}


def read_csv(cfg: SeriesConfig, source: str) -> Series:
    """The series in column `cfg.column` (or the last) of a CSV file; a first column besides it labels the rows."""
    path = Path(cfg.path)
    text = _text(path, source)
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(cell.strip() for cell in row)]
    if not rows:
        raise ConfigError(source, "data.path", f"{path} has no values ({len(text)} bytes{', empty' if not text else ''}); "
                          "expected a CSV file with one observation per row")
    header = None if _is_number(rows[0][1][-1]) else [cell.strip() for cell in rows[0][1]]
    body = rows[1:] if header else rows
    column = _column(cfg, header, path, source)
    if not body:
        raise ConfigError(source, "data.path", f"{path} has a header row and no values; expected one observation per row")
    values, labels = [], []
    for line, row in body:
        index = column if column is not None else len(row) - 1
        if len(row) <= index:
            raise ConfigError(source, "data.path", f"{path}: line {line} has {len(row)} columns; expected at least {index + 1}")
        cell = row[index].strip()
        if not _is_number(cell) or not math.isfinite(float(cell)):
            raise ConfigError(source, "data.path", f"{path}: line {line}: {cell!r} is not a finite number; expected one "
                              "value per row, gaps filled in")
        values.append(float(cell))
        labels.append(row[0].strip() if index > 0 else str(len(labels) + 1))  # a first column beside the values names the row
    name = header[column] if header and column is not None else "value"
    record = {"dataset": path.stem, "source": str(path), "column": name, "sha256_file": sha256_bytes(text.encode())}
    return Series(np.array(values, dtype=np.float64), labels, name, "", "observation", record)


def _text(path: Path, source: str) -> str:
    if not path.exists():
        raise ConfigError(source, "data.path", f"series file not found: {path}")
    if not path.is_file():
        raise ConfigError(source, "data.path", f"{path} is not a file; expected a CSV file with one observation per row")
    try:
        raw = path.read_bytes()[: MAX_CSV_BYTES + 1]
    except OSError as e:
        raise ConfigError(source, "data.path", f"{path} cannot be read ({e.strerror or e})") from None
    if len(raw) > MAX_CSV_BYTES:
        raise ConfigError(source, "data.path", f"{path} is larger than {MAX_CSV_BYTES} bytes; expected a CSV series")
    if b"\0" in raw:
        raise ConfigError(source, "data.path", f"{path} contains NUL bytes (binary data?); expected a CSV text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(source, "data.path", f"{path} is not UTF-8 text (byte {e.start}); expected a CSV text file") from None


def _column(cfg: SeriesConfig, header: list[str] | None, path: Path, source: str) -> int | None:
    """The index of the values' column; None for the last column of each row."""
    if cfg.column is None:
        return len(header) - 1 if header else None
    if header is None:
        raise ConfigError(source, "data.column", f"{path} has no header row to find column {cfg.column!r} in")
    if cfg.column not in header:
        raise ConfigError(source, "data.column", f"{path} has no column {cfg.column!r}; its columns: {', '.join(header)}")
    return header.index(cfg.column)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
