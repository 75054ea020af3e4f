"""Which finalist, or the two averaged, is `final`: chosen by evaluate on the holdout images by the rule of
every decision (stages.lib.core.decisions), recorded in FINAL_CHOICE for stages.predict,
stages.serve, the export stage and `dvc metrics diff`."""

from stages.lib.core.artifacts import read_json
from stages.lib.core.costs import TRAINING_COST
from stages.lib.core.decisions import Candidate, record
from stages.lib.core.model_files import right_answers
from stages.lib.core.paths import training_log_dir


def held_out_accuracy(name: str) -> float:
    """A trained model's last-epoch accuracy on its held-out images (from dvclive)."""
    return read_json(training_log_dir(name) / "metrics.json")["eval"]["accuracy"]


def choose_final(finalists: dict, averaged, holdout, duels: dict[str, dict], significance: float) -> dict:
    """The decision between the finalists (`finalists`: space -> its trained finalist,
    the first staying on equal cost), with `averaged` (the finalists averaged, one
    model) as the third candidate, on the `holdout` images, which no search used (never
    the test set): by the rule of every decision, each finalist costing what its space's
    duel record (in `duels`) says the kept model costs. Returns the decision as
    recorded, the models named SPACE_final and the average by its model's name."""
    x, y = holdout
    candidates = []
    for space, model in finalists.items():
        right = right_answers(model, x, y)
        duel = duels[space]
        candidates.append(Candidate(f"{space}_final", right, duel["candidates"][duel["kept"]]["cost"]))
    ensemble = Candidate(averaged.name, right_answers(averaged, x, y), sum(c.cost for c in candidates))
    return record(*candidates, significance=significance, cost=TRAINING_COST, ensemble=ensemble)
