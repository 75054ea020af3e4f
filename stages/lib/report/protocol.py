"""The report's account of the protocol: how the dataset's images were made
(preprocess's data/prepared/dataset.json) and the choices made on the holdout images."""

from stages.lib.core.decisions import sentence
from stages.lib.core.paths import AVERAGED_FINALISTS


def preparation(info: dict) -> str:
    """How the images were made: their size's origin and what was done to pictures."""
    size = "x".join(map(str, info["image_size"]))
    if info["format"] == "idx":
        return f"The images are the IDX files' own, {size}."
    if info["centre"] == "mass":
        done = (
            "each picture's drawing fitted into a box of 20/28 of each side and centred by its centre of "
            "mass, as MNIST's digits were"
        )
    elif info["size_reason"] == "every picture's size":
        done = "none was resized"
    else:
        done = "pictures of another size were resized with their aspect ratio kept and padded with black"
    return f"The pictures were made {size} ({info['size_reason']}): {done}."


def what_held(duel: dict) -> str:
    """What the search bought once trained in full, from train_final's duel.json: "the
    challenger held", "the default came back", that both were kept, averaged, or that
    there was no duel."""
    if not duel["duel"]:
        return f"{duel['outcome'][:1].upper()}{duel['outcome'][1:]}, so it alone was trained in full"
    held = {"challenger": "the challenger held", "default": "the default came back"}
    return "Trained in full, " + held.get(duel["kept"], "both were kept, averaged")


def duel_sentence(duel: dict) -> str:
    """The duel (or why there was none) in a sentence, with its figures."""
    if not duel["duel"]:
        [alone] = duel["candidates"].values()
        return f"{what_held(duel)} ({alone['right']:,} of {duel['images']:,} holdout images right)."
    return f"{what_held(duel)}. {sentence(duel, 'holdout images')}"


def held_out_choices(
    duels: dict[str, dict], final_choice: dict, significance: float, test_images: int
) -> list[str]:
    """The protocol's lines on the choices made on the holdout images: each space's duel
    (train_final's duel.json) and `final` (evaluate's decision), then the rule."""
    any_duel = any(duel["duel"] for duel in duels.values())
    return [
        "- `train_final` trained each family's finalist on the search and validation images. Where a "
        "search kept a challenger over its default, it trained both and kept one, or both averaged, on "
        "the holdout images (the duel):",
        *(f"  - {space}: {duel_sentence(duel)}" for space, duel in duels.items()),
        f"- `final` was chosen between the finalists and their average on the holdout images, which no "
        "search used: "
        f"**{final_choice['kept']}**. {sentence(final_choice, 'holdout images')}",
        f"- So the holdout images served {'two choices, the duel and' if any_duel else 'one choice,'} "
        f"`final`; the {test_images:,} test images were used once, here, and chose nothing.",
        "",
        "Every choice between two models follows one rule: McNemar's exact test on the images one gets "
        f"right and the other wrong; the better is kept where p < {significance}, else (a tie, within the "
        "noise) the cheaper to train by the cost table. Where both are trained in full, their average "
        "(training already paid; inference runs both) is a third candidate: after a tie it is kept unless "
        "the model kept is better than it beyond the noise, after a win only if it is better than the "
        "winner beyond the noise. Each decision says how small a difference it "
        "could have seen (at 80% power): a tie says only that any difference is likely smaller than that. "
        "Every accuracy carries its 95% Wilson interval, how far that many images pin it down.",
    ]


def ensemble_lines(
    duels: dict[str, dict], final_choice: dict, accuracy: dict[str, float], member_accuracy: dict
) -> list[str]:
    """What each average of two models trained in full bought, in the duels and in
    `final`'s decision: its holdout count against the model it was compared with, and
    where it was kept (so saved), its test accuracy against its members' alone
    (`accuracy`: each model's test accuracy; `member_accuracy`: a kept duel average's
    members')."""
    averages = {f"{space}_final": duel for space, duel in duels.items() if "ensemble" in duel}
    lines = ["What each average of two models bought (its test accuracies chose nothing):", ""]
    for name, decision in {**averages, "final": final_choice}.items():
        ensemble = decision["ensemble"]
        averaged, compared = decision["candidates"][ensemble["name"]], ensemble["compared_with"]
        line = (
            f"- {name}: {ensemble['name']}, averaged, got {averaged['right']:,} of {decision['images']:,} "
            f"holdout images right, {compared} alone {decision['candidates'][compared]['right']:,}: "
            + ("kept" if averaged["kept"] else "not kept")
        )
        if name == "final":
            together, alone = accuracy[AVERAGED_FINALISTS], {m: accuracy[m] for m in averaged["members"]}
        elif averaged["kept"]:
            together, alone = accuracy[name], member_accuracy[name]
        else:
            lines.append(line + ".")
            continue
        apart = ", ".join(f"{member} {value:.4f}" for member, value in alone.items())
        lines.append(f"{line}. On the test images {together:.4f}, against {apart} alone.")
    return [*lines, ""]
