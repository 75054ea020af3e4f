"""The report's account of how the dataset's images were made (preprocess's
data/prepared/dataset.json)."""


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
