import numpy as np
import pytest

from stages.lib import search
from stages.lib.errors import ParamsError
from stages.lib.params import PARAMS_FILE, load_params
from tests.idx_files import REPO

BASE = {"family": "lenet", "filters": [32, 64], "kernel_size": 5, "dense_units": 120,
        "optimizer": "adam", "learning_rate": 1e-3}


def test_candidates_cover_the_grid_in_order():
    found = search.candidates(BASE, {"filters": [[16, 32], [64, 128]], "learning_rate": [1e-3, 5e-4]})
    assert [(c["filters"], c["learning_rate"]) for c in found] == [
        ([16, 32], 1e-3), ([16, 32], 5e-4), ([64, 128], 1e-3), ([64, 128], 5e-4)
    ]
    assert all(c["dense_units"] == 120 and c["family"] == "lenet" for c in found)


def test_grid_keys_must_be_model_keys():
    with pytest.raises(ParamsError, match="cv_search.grid.filter is not a key of cv_search.model"):
        search.candidates(BASE, {"filter": [[1, 2]]})
    with pytest.raises(ParamsError, match=r"learning_rate must be > 0.0, got -1"):
        search.candidates(BASE, {"learning_rate": [-1]})


def test_search_params_validates_the_section():
    params = load_params(REPO / PARAMS_FILE)
    params["cv_search"]["folds"] = 1
    with pytest.raises(ParamsError, match="cv_search.folds must be >= 2, got 1"):
        search.search_params(params)


def test_results_table(monkeypatch):
    scores = {16: [0.90, 0.92], 64: [0.97, 0.99]}
    monkeypatch.setattr(search, "cross_validate", lambda spec, x, y, **_: scores[spec["filters"][0]])
    settings = {"candidates": search.candidates(BASE, {"filters": [[16, 32], [64, 128]]}),
                "grid": {"filters": [[16, 32], [64, 128]]},
                "folds": 2, "epochs": 1, "batch_size": 8, "early_stopping_patience": 1}
    table = search.run_search(settings, None, None, seed=0, num_classes=10)
    assert table["candidate"].tolist() == ["filters=[16, 32]", "filters=[64, 128]"]
    assert table["fold_2"].tolist() == [0.92, 0.99]
    np.testing.assert_allclose(table["mean_accuracy"], [0.91, 0.98])
    np.testing.assert_allclose(table["std_accuracy"], [0.01, 0.01])


def test_cross_validate_trains_one_model_per_stratified_fold():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = rng.random((60, 12, 12), dtype=np.float32) * 0.1
    x[np.arange(60), y * 4, y * 4] = 1.0  # a bright pixel whose place gives the class away
    spec = {**BASE, "filters": [2, 2], "kernel_size": 3, "dense_units": 8, "learning_rate": 0.01}
    scores = search.cross_validate(spec, x, y, folds=3, epochs=2, batch_size=16,
                                   early_stopping_patience=1, seed=0, num_classes=3)
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
