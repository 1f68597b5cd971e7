"""Checked readers for the files jobs read: nothing wrong passes silently.

A killed writer, a full disk or a bad copy leaves a file that the plain readers accept or
reject with a message that hides where the fault is (numpy calls random bytes "pickled data",
pandas pads a cut-off last row with NaN, a zero scale yields empty columns and KL 0). Each
reader here fails with :class:`InputError`, whose message starts with the path and says what
is wrong, and returns what the plain reader would:

- ``read_table(path, columns, text=(), finite=(), min_rows=1, expected_rows=None)`` -> DataFrame:
  a CSV with these columns (a list, or a dict name -> kind: 'int', 'float', 'str', 'bool');
  ``text`` columns are read verbatim ("", "NA" and "None" stay strings), ``finite`` columns
  must hold no NaN/inf. The file must end with a newline (pandas writes one), so a cut-off
  last row is caught.
- ``check_curve_rows(frame, path, step_col, expected_steps)``: an RL/DAA curve has one row
  per evaluation step, exactly ``expected_steps``.
- ``load_array(path, shape=None, finite=True)`` -> ndarray: a .npy file; ``shape`` may hold
  None for any length.
- ``load_npz(path, keys, finite=True)`` -> dict name -> ndarray (every array of the archive):
  ``keys`` maps the names that must be there -> shape.
- ``read_json(path, keys=())`` -> dict: a JSON object with these keys.
- ``load_normalization(path)`` -> dict: finite ``shift`` and a finite, positive ``scale``.
- ``check_model_dir(path)``: a model folder has config.json and complete safetensors
  weights; hub ids (not local paths) are left to transformers.

Only numpy and pandas are imported: table jobs never load torch.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from pandas._libs.parsers import (
    STR_NA_VALUES,  # pandas' default NA strings (listed in read_csv's docs)
)
from pandas.api import types


class InputError(ValueError):
    """A job's input file is missing, cut short or wrong; the message starts with its path."""

    def __init__(self, path, what: str):
        super().__init__(f"{path}: {what}")


_KINDS = {"int": types.is_integer_dtype, "str": types.is_string_dtype, "bool": types.is_bool_dtype,
          "float": lambda s: types.is_numeric_dtype(s) and not types.is_bool_dtype(s)}


def _exists(path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "missing" if not p.exists() else "not a file")
    return p


def _ends_with_newline(path) -> None:
    """pandas ends every CSV with a newline: a file without one was cut off mid-row."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(size - 1, 0))
        if size and f.read(1) != b"\n":
            raise InputError(path, "does not end with a newline: cut off mid-row (an interrupted write?)")


def read_table(path, columns: dict[str, str] | list[str], *, text=(), finite=(), min_rows: int = 1,
               expected_rows: int | None = None) -> pd.DataFrame:
    """A CSV with the given columns, kinds and row count; see the module docstring."""
    p = _exists(path)
    _ends_with_newline(p)
    try:
        # rows end with \n only: pandas writes a bare \r inside a text field (a byte-level tokenizer's
        # response) unquoted, and the default reader would split the row there
        header = list(pd.read_csv(p, nrows=0, lineterminator="\n").columns)
        frame = pd.read_csv(p, keep_default_na=False, lineterminator="\n", dtype={c: str for c in text if c in header},
                            na_values={c: list(STR_NA_VALUES) for c in header if c not in text})
    except pd.errors.EmptyDataError:
        raise InputError(path, "empty (no header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(path, f"not a readable CSV ({e})") from None
    missing = [c for c in dict.fromkeys([*columns, *text, *finite]) if c not in frame.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; has {list(frame.columns)}")
    kinds = columns if isinstance(columns, dict) else {}
    for c, kind in kinds.items():
        if not _KINDS[kind](frame[c]):
            raise InputError(path, f"column {c!r} should be {kind}, is {frame[c].dtype}")
    for c in finite:
        if not types.is_numeric_dtype(frame[c]):
            raise InputError(path, f"column {c!r} should be numeric, is {frame[c].dtype}")
        bad = ~np.isfinite(frame[c].to_numpy(dtype=float))
        if bad.any():
            raise InputError(path, f"column {c!r} has {bad.sum()} NaN/inf value(s), first in data row {bad.argmax()}")
    if len(frame) < min_rows or expected_rows is not None and len(frame) != expected_rows:
        want = expected_rows if expected_rows is not None else f"at least {min_rows}"
        raise InputError(path, f"has {len(frame)} row(s), expected {want}")
    return frame


def check_curve_rows(frame: pd.DataFrame, path, step_col: str, expected_steps) -> None:
    """A curve CSV cut short (a partial row, or evaluation steps missing) is rejected."""
    _ends_with_newline(_exists(path))
    if step_col not in frame.columns:
        raise InputError(path, f"missing column {step_col!r}")
    steps, want = frame[step_col].tolist(), sorted(int(s) for s in expected_steps)
    if sorted(steps) != want:
        missing, extra = sorted(set(want) - set(steps)), sorted(set(steps) - set(want))
        raise InputError(path, f"{step_col} values {steps} are not the expected {want} "
                               f"(missing {missing}, unexpected {extra}; duplicated rows if both are empty)")


def _check_array(path, a: np.ndarray, shape, finite: bool, name: str = "") -> np.ndarray:
    what = f"array {name!r}" if name else "array"
    if shape is not None and (a.ndim != len(shape) or any(w is not None and w != n for n, w in zip(a.shape, shape))):
        raise InputError(path, f"{what} has shape {a.shape}, expected {tuple(shape)} (None: any)")
    if finite and np.issubdtype(a.dtype, np.number):
        bad = ~np.isfinite(a)
        if bad.any():
            raise InputError(path, f"{what} has {bad.sum()} NaN/inf value(s) of {a.size}, "
                                   f"first at {tuple(int(i) for i in np.unravel_index(bad.argmax(), a.shape))}")
    return a


def load_array(path, shape: tuple | None = None, finite: bool = True) -> np.ndarray:
    """A .npy array, read without pickle, of the given shape, finite by default."""
    with open(_exists(path), "rb") as f:
        try:  # not np.load: it calls any file without the .npy magic "pickled data"
            a = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, EOFError, OSError) as e:
            raise InputError(path, f"not a valid, complete .npy file ({e})") from None
    return _check_array(path, a, shape, finite)


def load_npz(path, keys: dict[str, tuple | None], finite: bool = True) -> dict[str, np.ndarray]:
    """Every array of an .npz archive; the ``keys`` must be there, each of its shape (None: any)."""
    if not zipfile.is_zipfile(_exists(path)):
        raise InputError(path, "not an .npz archive (a cut-off or foreign file?)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise InputError(path, f"missing array(s) {missing}; has {z.files}")
            return {k: _check_array(path, z[k], keys.get(k), finite, k) for k in z.files}
    except InputError:
        raise
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as e:
        raise InputError(path, f"not a valid, complete .npz archive ({e})") from None


def read_json(path, keys=()) -> dict:
    """A JSON object holding ``keys``."""
    try:
        d = json.loads(_exists(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON, perhaps cut off ({e})") from None
    if not isinstance(d, dict):
        raise InputError(path, f"should hold a JSON object, holds {type(d).__name__}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise InputError(path, f"missing key(s) {missing}; has {list(d)}")
    return d


def load_normalization(path) -> dict:
    """A normalization (score = (raw - shift) / scale); a zero scale would give empty scores."""
    d = read_json(path, ["shift", "scale"])
    for k in ("shift", "scale"):
        if isinstance(d[k], bool) or not isinstance(d[k], (int, float)) or not math.isfinite(d[k]):
            raise InputError(path, f"{k} should be a finite number, is {d[k]!r}")
    if d["scale"] <= 0:
        raise InputError(path, f"scale should be positive, is {d['scale']!r}")
    return d


_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


def check_model_dir(path) -> None:
    """A local model folder has config.json and complete safetensors weights (a cut-off file
    makes transformers fail obscurely, or not at all). A hub id is left to transformers."""
    p = Path(path)
    if not p.exists():
        if _HUB_ID.fullmatch(str(path)) and not str(path).startswith("."):
            return
        raise InputError(path, "missing model folder")
    if not p.is_dir():
        raise InputError(path, "not a model folder")
    read_json(p / "config.json")
    index = p / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(read_json(index, ["weight_map"])["weight_map"].values()))
    elif (p / "model.safetensors").exists():
        shards = ["model.safetensors"]
    else:
        raise InputError(path, f"no model.safetensors (has {sorted(f.name for f in p.iterdir())})")
    for shard in shards:
        _check_safetensors(_exists(p / shard))


def _check_safetensors(path: Path) -> None:
    """The header parses and the tensors' data ends exactly at the end of the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if not 0 < n <= size - 8:
            raise InputError(path, f"not a complete safetensors file ({size} bytes, header length {n})")
        try:
            header = json.loads(f.read(n))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, KeyError, TypeError, IndexError) as e:
            raise InputError(path, f"safetensors header unreadable ({e!r})") from None
    if size != 8 + n + end:
        raise InputError(path, f"safetensors file has {size} bytes, its header says {8 + n + end} (cut off?)")
