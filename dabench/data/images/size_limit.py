"""The one size limit on decoded images: Pillow's decompression-bomb limit (~89 megapixels).

Above it Pillow only warns (a raw DecompressionBombWarning) and then decodes hundreds of MB per
image; dabench refuses such an image instead, with one line naming the file and its size. No
dataset dabench knows has one. (Above twice the limit Pillow itself raises.)
"""

from __future__ import annotations


def too_large(image) -> str | None:
    """Images above Pillow's decompression-bomb limit (~89 megapixels) are refused with one
    line (Pillow would only warn, then decode hundreds of MB per image); no dataset dabench
    knows has them. Call quiet_bomb_warnings() first so Pillow's raw warning is not printed."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit and image.width * image.height > limit:
        return (f"too large: {image.width}x{image.height} = {image.width * image.height / 1e6:.0f} "
                f"megapixels, above the {limit / 1e6:.0f} MP limit; resize or remove it")
    return None


def quiet_bomb_warnings() -> None:
    import warnings

    from PIL import Image

    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
