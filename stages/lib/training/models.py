"""The one model-building path that every training stage shares: build_model turns a
model spec (stages.lib.core.specs) into a compiled Keras model; steps_per_execution says
how many of its training steps one compiled call runs.
"""

from stages.lib.core.specs import ModelSpec


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int, total_steps: int = 1):
    """A compiled Keras model for a validated spec, taking images of `input_shape`;
    `total_steps` (optimizer updates in the whole run) sets the learning-rate schedule."""
    import keras

    model = keras.Sequential(
        # The output layer computes in float32 under any precision policy (Keras' advice
        # for mixed precision: a float16 softmax loses small probabilities).
        [
            keras.Input(shape=input_shape),
            *_layers(spec, input_shape),
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name=spec.family,
    )
    learning_rate = spec.learning_rate
    if spec.lr_schedule == "cosine":
        # With warmup: linear from 0 to the learning rate, then the cosine decay to 0.
        warmup_steps = round(spec.warmup * total_steps)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else learning_rate,
            decay_steps=total_steps - warmup_steps,
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    # AdamW needs a number (0 is no decay); the others take None for no decay.
    weight_decay = spec.weight_decay if spec.optimizer == "adamw" else spec.weight_decay or None
    optimizer = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }[spec.optimizer](
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        # fit() ends by copying the averaged weights into the model (what is saved).
        use_ema=spec.ema > 0,
        ema_momentum=spec.ema or 0.99,
    )
    # One-hot labels (fitting.fit makes them), which label smoothing needs; with none,
    # the notebooks' categorical cross-entropy.
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=spec.label_smoothing),
        metrics=["accuracy"],
    )
    return model


def _layers(spec, input_shape: tuple[int, ...]) -> list:
    from keras import layers

    if spec.family == "mlp":
        stack = [layers.Flatten()]
        for units in spec.hidden_units:
            stack.append(layers.Dense(units, activation="relu"))
            if spec.dropout > 0:
                stack.append(layers.Dropout(spec.dropout))
        return stack

    # Grayscale images (height, width) get their one channel; RGB ones have three.
    stack = [layers.Reshape((*input_shape, 1))] if len(input_shape) == 2 else []
    if spec.family == "lenet":
        for filters in spec.filters:
            stack += [layers.Conv2D(filters, spec.kernel_size, activation="relu"), layers.MaxPooling2D(2)]
        return stack + [layers.Flatten(), layers.Dense(spec.dense_units, activation="relu")]

    for block in spec.blocks:
        for filters in block:
            # No bias: BatchNormalization's offset plays its part.
            stack += [layers.Conv2D(filters, spec.kernel_size, use_bias=False), batch_norm(), layers.ReLU()]
        stack.append(layers.MaxPooling2D(2))
    stack += [layers.Flatten(), layers.Dense(spec.dense_units, use_bias=False), batch_norm(), layers.ReLU()]
    return stack + ([layers.Dropout(spec.dropout)] if spec.dropout > 0 else [])


def batch_norm():
    """BatchNormalization whose moving statistics (what the model predicts with) follow
    the last ~10 batches, not Keras' default ~100 (momentum 0.99): with the default, a
    CNN that trained to 92% in its first epoch of 157 batches still predicted one class
    for every validation image, so short trials and pruning after one epoch judged it
    at chance."""
    from keras import layers

    return layers.BatchNormalization(momentum=0.9)


# A compiled call of Keras runs up to this many batches where a step is short (by the
# cost table): the notebook-000 MLPs trained 1.4-1.6x faster so, with the same weights;
# the CNN and the 1,024-unit MLP, whose steps are long, at 0.77-0.91 of their speed
# (docs/measurements.md).
SHORT_STEP_SECONDS = 0.015
MAX_STEPS_PER_EXECUTION = 32


def steps_per_execution(step_seconds: float, steps_per_epoch: int) -> int:
    """Batches per compiled call: 1 for a step of SHORT_STEP_SECONDS or more; else the
    largest divisor of the epoch's batches up to MAX_STEPS_PER_EXECUTION (Keras 3 runs a
    call's batches in full, past the end of an epoch if that is not a multiple)."""
    if step_seconds >= SHORT_STEP_SECONDS:
        return 1
    return max(n for n in range(1, MAX_STEPS_PER_EXECUTION + 1) if steps_per_epoch % n == 0)
