"""train_final's training. Where cv_search kept a challenger over its default (at the
trials' fidelity: a sample of the search images, a few epochs), both are trained as
train_final trains them and the rule of stages.lib.core.decisions keeps one of them, or
both averaged, on the holdout images: the duel. Otherwise the one spec cv_search kept is
trained."""

import shutil
import tempfile
from pathlib import Path

from stages.lib.core.costs import TRAINING_COST, training_seconds
from stages.lib.core.decisions import Candidate, alone, record
from stages.lib.core.model_files import averaged
from stages.lib.core.specs import ModelSpec
from stages.lib.training.fitting import fit, jointly, new_model


def candidates(method: str, default: ModelSpec, searched: ModelSpec) -> dict[str, ModelSpec]:
    """What train_final trains, named: the space's default and the challenger cv_search
    kept over it (a duel, the default first), or the one spec cv_search kept (its
    default, or method grid_cv's best grid point, which has no default to duel with)."""
    if method == "grid_cv":
        return {"best grid point": searched}
    if searched.model_dump() == default.model_dump():
        return {"default": searched}
    return {"default": default, "challenger": searched}


def train_finalist(
    specs: dict[str, ModelSpec],
    train_data,
    holdout,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    num_classes: int,
    significance: float,
    log_dir: Path,
):
    """Train each of `specs` (from candidates()) on `train_data`, monitored on the
    `holdout` images, and keep one, or where there are two, both averaged (a third
    candidate): by the rule, on the holdout images. Returns the kept model and the duel
    as recorded (`duel` false where there was one spec); log_dir gets the dvclive
    history of the kept model (of an average: of the one the pair's rule kept)."""
    x, y = holdout
    models = {
        name: new_model(spec, train_data[0], num_classes, epochs=epochs, batch_size=batch_size, seed=seed)
        for name, spec in specs.items()
    }
    with tempfile.TemporaryDirectory(prefix="train_final-") as scratch:
        # Both at once, each on its own augmentation of the same batches, as each would
        # be trained alone (faster on 2 cores than one after the other: docs/measurements.md).
        fit(
            jointly(models),
            {name: spec.augmentation for name, spec in specs.items()},
            train_data,
            holdout,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            log_dir=Path(scratch),
        )
        trained, probabilities = {}, {}
        for name, spec in specs.items():
            probabilities[name] = models[name].predict(x, batch_size=1024, verbose=0)
            cost = training_seconds(
                spec,
                x.shape[1:],
                num_classes,
                batch_size=batch_size,
                images=len(train_data[0]),
                epochs=epochs,
            )
            trained[name] = (
                models[name],
                Candidate(name, probabilities[name].argmax(axis=1) == y, round(cost, 1)),
            )
        if len(trained) == 2:
            (first, a), (second, b) = ((name, candidate) for name, (_, candidate) in trained.items())
            name = f"{first}+{second}"
            average = sum(probabilities.values()) / 2
            ensemble = Candidate(name, average.argmax(axis=1) == y, round(a.cost + b.cost, 1))
            duel = {
                "duel": True,
                **record(a, b, significance=significance, cost=TRAINING_COST, ensemble=ensemble),
            }
            if duel["kept"] == name:
                trained[name] = (
                    averaged({first: trained[first][0], second: trained[second][0]}, "averaged"),
                    ensemble,
                )
        else:
            [(_, only)] = trained.values()
            duel = {
                "duel": False,
                **alone(only, cost=TRAINING_COST, outcome=f"no duel: cv_search kept the {only.name}"),
            }
        logged = duel["ensemble"]["compared_with"] if "ensemble" in duel else duel["kept"]
        replace_logs(Path(scratch) / logged, log_dir)
    return trained[duel["kept"]][0], duel


def replace_logs(source: Path, target: Path) -> None:
    """Move what dvclive wrote in `source` (metrics.json, plots/) into `target`, in
    place of what was there."""
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        destination = target / item.name
        if destination.is_dir():
            shutil.rmtree(destination)
        shutil.move(item, destination)
