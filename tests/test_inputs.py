"""The checked readers reject real broken files, naming the path and the fault."""
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from overopt import inputs
from overopt.inputs import InputError


def fails(path, what):
    """pytest.raises for an InputError whose message starts with `path` and mentions `what`."""
    return pytest.raises(InputError, match=f"^{re.escape(str(path))}: .*{what}")


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "curve.csv"
    frame = pd.DataFrame({"step": [0, 10, 20], "gold": [0.1, 0.5, 0.2], "algorithm": "rloo", "ok": True})
    frame.to_csv(path, index=False)
    return path


COLUMNS = {"step": "int", "gold": "float", "algorithm": "str", "ok": "bool"}


def test_a_good_table_reads(table):
    frame = inputs.read_table(table, COLUMNS, finite=["gold"], expected_rows=3)
    assert frame.step.tolist() == [0, 10, 20]
    assert inputs.read_table(table, ["step"]).shape == (3, 4)


def test_a_table_cut_mid_row_is_refused(table):
    table.write_bytes(table.read_bytes()[:-7])  # "...20,0.2,rl": a partial last row pandas would pad
    with fails(table, "cut off mid-row"):
        inputs.read_table(table, COLUMNS)


def test_missing_empty_and_header_only_tables(tmp_path):
    with fails(tmp_path / "nope.csv", "missing"):
        inputs.read_table(tmp_path / "nope.csv", ["a"])
    (tmp_path / "empty.csv").write_text("")
    with fails(tmp_path / "empty.csv", "empty"):
        inputs.read_table(tmp_path / "empty.csv", ["a"])
    (tmp_path / "header.csv").write_text("a,b\n")
    with fails(tmp_path / "header.csv", r"0 row\(s\), expected at least 1"):
        inputs.read_table(tmp_path / "header.csv", ["a"])


def test_columns_kinds_values_and_rows(table):
    with fails(table, r"missing column\(s\) \['kl'\]"):
        inputs.read_table(table, ["step", "kl"])
    with fails(table, "'algorithm' should be float"):
        inputs.read_table(table, {"algorithm": "float"})
    with fails(table, r"3 row\(s\), expected 4"):
        inputs.read_table(table, COLUMNS, expected_rows=4)
    table.write_text("step,gold\n0,0.1\n10,nan\n20,inf\n")
    with fails(table, "'gold' should be int, is float64"):
        inputs.read_table(table, {"step": "int", "gold": "int"}, min_rows=3)
    with fails(table, r"'gold' has 2 NaN/inf value\(s\), first in data row 1"):
        inputs.read_table(table, {"step": "int"}, finite=["gold"])


def test_text_columns_are_verbatim_and_a_cut_text_row_is_refused(tmp_path):
    path = tmp_path / "pairs.csv"
    pairs = pd.DataFrame({"prompt": ["a b", "NA"], "chosen": ["", "None"], "rejected": ['say "x",\ny', "nan"],
                          "margin": [0.5, 1.5]})
    pairs.to_csv(path, index=False)
    frame = inputs.read_table(path, {"prompt": "str", "chosen": "str", "margin": "float"},
                              text=["prompt", "chosen", "rejected"], finite=["margin"])
    assert frame.drop(columns="margin").equals(pairs.drop(columns="margin"))
    raw = path.read_text()
    path.write_text(raw[:raw.index("\ny") + 1])  # cut at a newline inside the quoted text of the first row
    with fails(path, "not a readable CSV"):
        inputs.read_table(path, ["prompt"], text=["prompt", "chosen", "rejected"])
    path.write_text(raw[:-4])  # cut mid-row, outside quotes
    with fails(path, "cut off mid-row"):
        inputs.read_table(path, ["prompt"], text=["prompt", "chosen", "rejected"])


def test_curve_rows(table):
    frame = inputs.read_table(table, COLUMNS)
    inputs.check_curve_rows(frame, table, "step", [0, 10, 20])
    with fails(table, r"missing \[30\]"):
        inputs.check_curve_rows(frame, table, "step", range(0, 31, 10))
    table.write_bytes(table.read_bytes()[:-3])
    with fails(table, "cut off mid-row"):
        inputs.check_curve_rows(frame, table, "step", [0, 10, 20])


def test_arrays(tmp_path):
    good = tmp_path / "gold.npy"
    np.save(good, np.arange(12.0).reshape(3, 4))
    assert inputs.load_array(good, (None, 4)).shape == (3, 4)
    with fails(good, r"shape \(3, 4\), expected \(None, 5\)"):
        inputs.load_array(good, (None, 5))
    with fails(good, "expected"):
        inputs.load_array(good, (12,))
    (tmp_path / "random.npy").write_bytes(os.urandom(256))
    with fails(tmp_path / "random.npy", "not a valid, complete .npy file"):
        inputs.load_array(tmp_path / "random.npy")
    (tmp_path / "cut.npy").write_bytes(good.read_bytes()[:-8])
    with fails(tmp_path / "cut.npy", "not a valid, complete .npy file"):
        inputs.load_array(tmp_path / "cut.npy")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [np.inf, 0.0]]))
    with fails(tmp_path / "nan.npy", r"2 NaN/inf value\(s\) of 4, first at \(0, 1\)"):
        inputs.load_array(tmp_path / "nan.npy")
    assert np.isnan(inputs.load_array(tmp_path / "nan.npy", finite=False)).sum() == 1


def test_npz(tmp_path):
    path = tmp_path / "scores.npz"
    np.savez(path, gold=np.zeros((2, 3)), proxy=np.ones(2))
    got = inputs.load_npz(path, {"gold": (2, None), "proxy": (2,)})
    assert got["gold"].shape == (2, 3)
    with fails(path, r"missing array\(s\) \['kl'\]"):
        inputs.load_npz(path, {"kl": None})
    with fails(path, "array 'proxy' has shape"):
        inputs.load_npz(path, {"proxy": (3,)})
    path.write_bytes(path.read_bytes()[:100])
    with fails(path, "not an .npz archive"):
        inputs.load_npz(path, {"gold": None})


def test_json_and_normalization(tmp_path):
    path = tmp_path / "norm.json"
    path.write_text(json.dumps({"shift": 0.5, "scale": 2.0, "n": 10}))
    assert inputs.load_normalization(path)["scale"] == 2.0
    for bad, what in [({"shift": 0.5, "scale": 0.0}, "scale should be positive"),
                      ({"shift": 0.5, "scale": -1}, "scale should be positive"),
                      ({"shift": float("nan"), "scale": 1.0}, "shift should be a finite number"),
                      ({"shift": 0.0, "scale": "1"}, "scale should be a finite number"),
                      ({"shift": 0.0}, r"missing key\(s\) \['scale'\]")]:
        path.write_text(json.dumps(bad))
        with fails(path, what):
            inputs.load_normalization(path)
    path.write_text('{"shift": 0.5, "sca')
    with fails(path, "not valid JSON"):
        inputs.read_json(path)
    path.write_text("[1, 2]")
    with fails(path, "should hold a JSON object"):
        inputs.read_json(path)


def test_model_dir(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "gpt2"}')
    save_file({"w": torch.randn(4, 3), "b": torch.zeros(3)}, model / "model.safetensors")
    inputs.check_model_dir(model)
    inputs.check_model_dir("EleutherAI/pythia-70m")  # a hub id: left to transformers
    with fails(tmp_path / "results/models/gone", "missing model folder"):
        inputs.check_model_dir(tmp_path / "results/models/gone")
    weights = model / "model.safetensors"
    full = weights.read_bytes()
    weights.write_bytes(full[:-5])
    with fails(weights, r"has \d+ bytes, its header says \d+"):
        inputs.check_model_dir(model)
    weights.write_bytes(full[:20])
    with fails(weights, "not a complete safetensors file"):
        inputs.check_model_dir(model)
    weights.write_bytes(full[:8] + b"{not json" + full[17:])
    with fails(weights, "header unreadable"):
        inputs.check_model_dir(model)
    weights.unlink()
    with fails(model, "no model.safetensors"):
        inputs.check_model_dir(model)
    (model / "config.json").unlink()
    with fails(model / "config.json", "missing"):
        inputs.check_model_dir(model)


def test_no_torch_at_import(root):
    import subprocess
    import sys

    code = "import sys, overopt.inputs; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
