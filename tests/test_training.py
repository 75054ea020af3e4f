import json

import numpy as np

from stages.lib.training import load_model, save_model, train

SPEC = {"family": "mlp", "hidden_units": [16], "dropout": 0.2, "optimizer": "adam", "learning_rate": 0.01}


def tiny_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=90)
    x = rng.random((90, 6, 6), dtype=np.float32)
    x[:, 0, :3] = np.eye(3, dtype=np.float32)[y]
    return x, y


def fit(seed, **kwargs):
    return train(SPEC, tiny_data(0), tiny_data(1), epochs=3, batch_size=16, seed=seed, num_classes=3, **kwargs)


def test_same_seed_same_weights_other_seed_other_weights():
    first, history = fit(seed=7)
    second, again = fit(seed=7)
    third, _ = fit(seed=8)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert history == again
    assert not np.array_equal(first.get_weights()[0], third.get_weights()[0])


def test_dvclive_logs_each_epoch_and_leaves_dvc_yaml_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    _, history = fit(seed=0, log_dir=tmp_path / "live")
    metrics = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert metrics["step"] == 2
    assert metrics["eval"]["accuracy"] == history["val_accuracy"][-1]
    rows = (tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:2] == ["step", "loss"] and len(rows) == 4
    assert (tmp_path / "dvc.yaml").read_text() == "stages: {}\n"


def test_save_and_load_round_trip(tmp_path):
    model, _ = fit(seed=0)
    save_model(model, tmp_path / "m.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
    x, _ = tiny_data(2)
    np.testing.assert_array_equal(load_model(tmp_path / "m.keras").predict(x, verbose=0), model.predict(x, verbose=0))
