"""Decoding an image safely: the format is read from the bytes, never trusted from a name or media type.

``decode_image(data, ...)`` accepts PNG, JPEG, WebP and GIF (the first frame), honours the EXIF orientation,
refuses what it cannot use with a ``MediaError`` that says why (empty, truncated, not an image, a format
outside those four, more pixels than the limit: the header is checked before any pixel is decoded, so a
200-megapixel image costs nothing), and downscales large images so that OCR sees at most ``max_side``
pixels on the long side.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from ponder.errors import MediaError

__all__ = ["FORMATS", "DecodedImage", "decode_image"]

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, upright, at most max_side on the long side
    format: str  # PNG, JPEG, WEBP or GIF
    original_size: tuple[int, int]  # width, height as stored (after EXIF rotation)
    frames: int  # 1, or the number of frames of an animation (only the first is read)

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]

    @property
    def scale(self) -> float:
        """Original pixels per decoded pixel (1.0 when the image was not downscaled)."""
        return self.original_size[0] / self.image.width

    @property
    def downscaled(self) -> bool:
        return self.image.size != self.original_size


def decode_image(
    data: bytes,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    max_pixels: int = 50_000_000,
    max_side: int = 2048,
    name: str = "the image",
) -> DecodedImage:
    if not data:
        raise MediaError(f"{name} is empty.")
    if len(data) > max_bytes:
        raise MediaError(f"{name} is {len(data) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB.")
    with warnings.catch_warnings():
        # Pillow warns (and past 2x its own limit raises) about huge images; Ponder sets its own limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except UnidentifiedImageError:
            raise MediaError(
                f"{name} is not an image Ponder can read: PNG, JPEG, WebP and GIF are supported."
            ) from None
        except Image.DecompressionBombError:  # Pillow's own ceiling, far above Ponder's limit
            ceiling = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
            raise MediaError(
                f"{name} has more than {ceiling:.0f} megapixels; the limit is {max_pixels / 1e6:.0f} "
                "megapixels. Downscale it first."
            ) from None
        except (OSError, ValueError, SyntaxError) as err:
            raise MediaError(f"{name} cannot be decoded ({err}).") from None
        with opened:
            return _decode(opened, max_pixels=max_pixels, max_side=max_side, name=name)


def _decode(opened: Image.Image, *, max_pixels: int, max_side: int, name: str) -> DecodedImage:
    width, height = opened.size
    if width < 1 or height < 1:
        raise MediaError(f"{name} has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise MediaError(
            f"{name} is {width}x{height} ({width * height / 1e6:.0f} megapixels); the limit is "
            f"{max_pixels / 1e6:.0f} megapixels. Downscale it first."
        )
    fmt = opened.format or ""
    try:
        orientation = opened.getexif().get(0x0112, 1)  # EXIF: 5-8 turn the picture by 90 degrees
        frames = int(getattr(opened, "n_frames", 1))
        opened.seek(0)
        if fmt == "JPEG":
            # Let the JPEG decoder drop to a power-of-two scale at once: much faster for big photos.
            opened.draft("RGB", (max_side, max_side))
        image = ImageOps.exif_transpose(opened) or opened
        image = image.convert("RGBA") if image.mode in ("P", "LA", "PA") else image
        if image.mode == "RGBA":  # transparent areas read as white, as a viewer shows them on paper
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            image = background
        image = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise MediaError(f"{name} is corrupt or truncated ({err}).") from None
    # The size as a person sees it (EXIF rotation applied), whatever draft() did to the decoded pixels.
    original = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return DecodedImage(image=image, format=fmt, original_size=original, frames=frames)
