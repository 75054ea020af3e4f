import json

import numpy as np
import pytest

from stages.lib.core.model_files import load_model, save_model
from stages.lib.core.specs import Augmentation, validate_spec
from stages.lib.training import fitting
from stages.lib.training.batches import distort, training_batches
from stages.lib.training.fitting import member_logs, new_model, train
from stages.lib.training.models import steps_per_execution

SPEC = validate_spec(
    {"family": "mlp", "hidden_units": [16], "dropout": 0.2, "optimizer": "adam", "learning_rate": 0.01},
    "spec",
)


def tiny_data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=90)
    x = rng.random((90, 6, 6), dtype=np.float32)
    x[:, 0, :3] = np.eye(3, dtype=np.float32)[y]
    return x, y


def fit(seed, **kwargs):
    return train(
        SPEC, tiny_data(0), tiny_data(1), epochs=3, batch_size=16, seed=seed, num_classes=3, **kwargs
    )


def test_same_seed_same_weights_other_seed_other_weights():
    first, history = fit(seed=7)
    second, again = fit(seed=7)
    third, _ = fit(seed=8)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history == again
    assert not np.array_equal(first.get_weights()[0], third.get_weights()[0])


def test_short_steps_run_several_to_a_call_dividing_the_epoch_with_the_same_weights():
    assert steps_per_execution(0.004, 391) == 23  # MNIST's 50,000 training images at 128
    assert steps_per_execution(0.004, 106) == 2 and steps_per_execution(0.004, 53) == 1
    assert steps_per_execution(0.04, 391) == 1  # a long step: one per call
    x, y = tiny_data(0)
    many = new_model(SPEC, x, 3, epochs=3, batch_size=8, seed=7)  # 12 batches an epoch
    assert many.steps_per_execution == 12
    one = new_model(SPEC, x, 3, epochs=3, batch_size=8, seed=7)
    one.steps_per_execution = 1
    histories = [
        fitting.fit(model, SPEC.augmentation, (x, y), tiny_data(1), epochs=3, batch_size=8, seed=7)
        for model in (many, one)
    ]
    assert histories[0] == histories[1]
    assert many.optimizer.iterations.numpy() == one.optimizer.iterations.numpy() == 3 * 12
    for a, b in zip(many.get_weights(), one.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


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


def test_a_joint_models_logs_are_each_members_named_as_if_it_trained_alone():
    logs = {
        "default/loss": 0.5,
        "val_default/accuracy": 0.9,
        "challenger/loss": 0.7,
        "val_challenger/loss": 0.8,
    }
    assert member_logs(logs, "default") == {"loss": 0.5, "val_accuracy": 0.9}
    assert member_logs(logs, "challenger") == {"loss": 0.7, "val_loss": 0.8}


def test_save_and_load_round_trip(tmp_path):
    model, _ = fit(seed=0)
    save_model(model, tmp_path / "m.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
    x, _ = tiny_data(2)
    np.testing.assert_array_equal(
        load_model(tmp_path / "m.keras").predict(x, verbose=0), model.predict(x, verbose=0)
    )


AUGMENTATION = Augmentation(rotation=10.0, shift=2.0, scale=0.1)


def batches(first_epoch, count, augmentation=AUGMENTATION, x=None, y=None):
    if x is None:
        x, y = tiny_data(0)
    stream = training_batches(x, y, augmentation, 32, seed=5, first_epoch=first_epoch)
    return [(images.numpy(), labels.numpy()) for images, labels in stream.take(count)]


def test_each_epoch_is_a_fresh_shuffle_of_every_image():
    x = np.arange(90, dtype=np.float32)[:, None, None] * np.ones((1, 6, 6), np.float32)
    y = np.arange(90) % 3
    epochs = batches(0, 6, Augmentation(), x, y)  # 3 batches an epoch
    first = np.concatenate([images[:, 0, 0] for images, _ in epochs[:3]])
    second = np.concatenate([images[:, 0, 0] for images, _ in epochs[3:]])
    assert sorted(first) == sorted(second) == list(range(90))
    assert not np.array_equal(first, second)
    for images, labels in epochs:  # labels travel with their images
        np.testing.assert_array_equal(images[:, 0, 0].astype(int) % 3, labels)


def test_the_stream_runs_without_tf_datas_autotuner():
    # With it, destroying the iterator waited for the autotuner's sleep (up to 60 s).
    x, y = tiny_data(0)
    assert training_batches(x, y, AUGMENTATION, 32, seed=5).options().autotune.enabled is False


def test_augmentation_is_seeded_and_a_resumed_stream_continues_it():
    stream = batches(0, 6)
    again = batches(0, 6)
    resumed = batches(1, 3)
    for (a, _), (b, _) in zip(stream, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for (a, la), (b, lb) in zip(stream[3:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
    plain_images, plain_labels = batches(0, 1, Augmentation())[0]
    np.testing.assert_array_equal(stream[0][1], plain_labels)  # the same images, in the same order,
    assert not np.allclose(stream[0][0], plain_images)  # but transformed


def test_distort_moves_a_digit_within_the_bounds():
    import tensorflow as tf

    image = np.zeros((64, 28, 28), np.float32)
    image[:, 12:16, 12:16] = 1.0
    still = distort(tf.constant(image), Augmentation(), tf.constant([1, 2], tf.int64))
    np.testing.assert_allclose(still.numpy(), image, atol=1e-6)
    moved = distort(tf.constant(image), Augmentation(shift=3.0), tf.constant([1, 2], tf.int64)).numpy()
    rows = (moved.sum(axis=2) * np.arange(28)).sum(axis=1) / moved.sum(axis=(1, 2))
    assert np.all(np.abs(rows - 13.5) <= 3.0 + 1e-4) and np.std(rows) > 0.5
    np.testing.assert_allclose(moved.sum(axis=(1, 2)), 16.0, rtol=1e-4)  # a shift keeps the ink


def test_augmented_training_is_deterministic():
    spec = SPEC.model_copy(update={"augmentation": AUGMENTATION, "lr_schedule": "cosine"})
    first, _ = train(spec, tiny_data(0), tiny_data(1), epochs=2, batch_size=16, seed=3, num_classes=3)
    second, _ = train(spec, tiny_data(0), tiny_data(1), epochs=2, batch_size=16, seed=3, num_classes=3)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_recipe_option_trains():
    spec = SPEC.model_copy(
        update={
            "lr_schedule": "cosine",
            "warmup": 0.2,
            "label_smoothing": 0.1,
            "ema": 0.9,
            "augmentation": Augmentation(elastic=1.0, elastic_sigma=1.0),
        }
    )
    model, history = train(spec, tiny_data(0), tiny_data(1), epochs=3, batch_size=16, seed=0, num_classes=3)
    assert len(history["loss"]) == 3 and np.all(np.isfinite(history["loss"]))
    assert history["val_accuracy"][-1] > 0.5  # it learns (the class is written in the first row)


def test_the_averaged_weights_are_what_the_model_keeps_and_saves(tmp_path):
    spec = SPEC.model_copy(update={"ema": 0.9})
    model, _ = train(spec, tiny_data(0), tiny_data(1), epochs=3, batch_size=16, seed=0, num_classes=3)
    averages = [v.numpy() for v in model.optimizer._model_variables_moving_average]
    for weight, average in zip(model.trainable_weights, averages, strict=True):
        np.testing.assert_array_equal(weight.numpy(), average)
    raw, _ = train(SPEC, tiny_data(0), tiny_data(1), epochs=3, batch_size=16, seed=0, num_classes=3)
    assert not np.allclose(raw.get_weights()[0], model.get_weights()[0])  # the same run, not averaged
    save_model(model, tmp_path / "m.keras")
    for saved, kept in zip(load_model(tmp_path / "m.keras").get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, kept)


def test_elastic_distortion_moves_pixels_smoothly_and_keeps_the_ink():
    import tensorflow as tf

    from stages.lib.training.batches import gaussian_blur

    image = np.zeros((16, 28, 28), np.float32)
    image[:, 8:20, 12:16] = 1.0
    seed = tf.constant([3, 4], tf.int64)
    moved = distort(tf.constant(image), Augmentation(elastic=34.0), seed).numpy()
    np.testing.assert_array_equal(
        moved, distort(tf.constant(image), Augmentation(elastic=34.0), seed).numpy()
    )
    assert np.abs(moved - image).mean() > 0.01 and not np.allclose(moved[0], moved[1])
    # The field stretches some parts and squeezes others (Simard et al.'s alpha 34, sigma 4)
    assert moved.sum() == pytest.approx(image.sum(), rel=0.1)
    impulse = np.zeros((1, 41, 41, 1), np.float32)
    impulse[0, 20, 20, 0] = 1.0
    blurred = gaussian_blur(tf.constant(impulse), 3.0).numpy()[0, :, :, 0]
    assert blurred.sum() == pytest.approx(1.0, abs=1e-5)
    spread = np.sqrt((blurred.sum(axis=0) * (np.arange(41) - 20) ** 2).sum())
    assert spread == pytest.approx(3.0, rel=0.05)  # a Gaussian of sigma 3 (cut at 3 sigma)


def photos(count=64, channels=3):
    rng = np.random.default_rng(0)
    return rng.uniform(0.2, 0.8, (count, 8, 10, channels)).astype(np.float32)


def test_flip_mirrors_about_half_the_images_whole_and_is_seeded():
    from stages.lib.training.batches import flip_and_jitter

    x, flip = photos(), Augmentation(flip=True)
    first = flip_and_jitter(x, flip, [3, 4]).numpy()
    np.testing.assert_array_equal(first, flip_and_jitter(x, flip, [3, 4]).numpy())
    assert not np.array_equal(first, flip_and_jitter(x, flip, [3, 5]).numpy())
    mirrored = [np.array_equal(after, before[:, ::-1]) for after, before in zip(first, x, strict=True)]
    kept = [np.array_equal(after, before) for after, before in zip(first, x, strict=True)]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))  # each image one or the other
    assert 16 < sum(mirrored) < 48
    # grayscale batches (no channel axis) keep their shape and flip alike
    gray = flip_and_jitter(x[..., 0], flip, [3, 4]).numpy()
    np.testing.assert_array_equal(gray, first[..., 0])


def test_brightness_and_contrast_jitter_each_image_within_its_bounds_seeded():
    from stages.lib.training.batches import flip_and_jitter

    x = photos()
    bright = flip_and_jitter(x, Augmentation(brightness=0.1), [1, 2]).numpy()
    np.testing.assert_array_equal(bright, flip_and_jitter(x, Augmentation(brightness=0.1), [1, 2]).numpy())
    shift = (bright - x).reshape(len(x), -1)
    np.testing.assert_allclose(shift, shift[:, :1].repeat(shift.shape[1], axis=1), atol=1e-6)
    assert np.abs(shift).max() <= 0.1 + 1e-6 and shift[:, 0].std() > 0.03  # one shift per image
    contrasted = flip_and_jitter(x, Augmentation(contrast=0.3), [1, 2]).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    norm = lambda images: np.sqrt(((images - mean) ** 2).sum(axis=(1, 2, 3), keepdims=True))  # noqa: E731
    factor = norm(contrasted) / norm(x)
    np.testing.assert_allclose(contrasted, (x - mean) * factor + mean, atol=1e-5)  # one factor per image
    assert 0.7 - 1e-4 <= factor.min() and factor.max() <= 1.3 + 1e-4 and factor.std() > 0.1
    np.testing.assert_allclose(contrasted.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-5)
    strong = flip_and_jitter(x, Augmentation(brightness=1.0, contrast=0.9), [1, 2]).numpy()
    assert strong.min() == 0.0 and strong.max() == 1.0  # clipped to the pixels' range


def test_flip_and_jitter_follow_the_affine_transform_of_the_same_stream():
    """A spec without flip or jitter (MNIST's) streams what it streamed before they
    existed; with them, each batch is that batch flipped and jittered."""
    from stages.lib.training.batches import flip_and_jitter

    x, y = tiny_data(0)
    affine = Augmentation(rotation=10, shift=2, scale=0.1)
    both = affine.model_copy(update={"flip": True, "brightness": 0.1, "contrast": 0.2})
    assert affine.affine and not affine.photometric and both.photometric
    images, labels = next(iter(training_batches(x, y, affine, 16, seed=3)))
    jittered, same_labels = next(iter(training_batches(x, y, both, 16, seed=3)))
    np.testing.assert_array_equal(labels, same_labels)
    # the first batch's seed is [epoch 0, batch 0] + the stream's seed
    # (to float32 rounding: the stream runs as a graph, this call eagerly)
    np.testing.assert_allclose(jittered.numpy(), flip_and_jitter(images, both, [3, 3]).numpy(), atol=1e-6)
    assert not np.array_equal(jittered.numpy(), images.numpy())
    assert Augmentation(flip=True).enabled and Augmentation(flip=True).scaled(0) == Augmentation()
    assert both.scaled(0.5).flip is True and both.scaled(2).contrast == 0.4
