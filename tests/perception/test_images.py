"""decode_image: formats from the bytes, EXIF orientation, limits, and clear errors for broken input."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ponder.errors import MediaError
from ponder.perception.images import decode_image
from ponder.testing.media import render_lines, to_format


@pytest.fixture
def picture() -> Image.Image:
    return render_lines(["Hello"], size=24)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_each_format_decodes_to_rgb(picture: Image.Image, fmt: str) -> None:
    decoded = decode_image(to_format(picture, fmt))
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"
    assert decoded.original_size == picture.size
    assert not decoded.downscaled


def test_gif_animation_reads_the_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(out.getvalue())
    assert decoded.frames == 3
    r, g, b = decoded.image.getpixel((5, 5))  # type: ignore[misc]
    assert r > 200 and g < 50 and b < 50


def test_exif_orientation_is_honoured() -> None:
    image = Image.new("RGB", (60, 20), "white")
    image.paste((255, 0, 0), (0, 0, 10, 20))  # a red band at the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, to be shown rotated 90° clockwise
    decoded = decode_image(to_format(image, "JPEG", exif=exif.tobytes()))
    assert decoded.image.size == (20, 60)
    assert decoded.original_size == (20, 60)
    r, g, _ = decoded.image.getpixel((10, 3))  # the band is now along the top
    assert r > 200 and g < 80


def test_large_images_are_downscaled() -> None:
    decoded = decode_image(to_format(Image.new("RGB", (4000, 1000), "white"), "PNG"), max_side=2048)
    assert decoded.image.size == (2048, 512)
    assert decoded.original_size == (4000, 1000)
    assert decoded.downscaled and decoded.scale == pytest.approx(4000 / 2048)


def test_transparency_reads_as_white() -> None:
    decoded = decode_image(to_format(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG"))
    assert decoded.image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("size", [(20_000, 10_000), (10_000, 6_000)], ids=["200MP", "60MP"])
def test_huge_images_are_refused_before_decoding(size: tuple[int, int]) -> None:
    huge = to_format(Image.new("1", size), "PNG")  # a small file with many pixels
    with pytest.raises(MediaError, match="the limit is 50 megapixels"):
        decode_image(huge)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"this is not an image at all", "not an image Ponder can read"),
        (b"BM" + b"\0" * 100, "not an image Ponder can read"),  # BMP header: a format Ponder does not take
    ],
)
def test_bad_bytes_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_truncated_image_gets_a_clear_error(picture: Image.Image, fmt: str) -> None:
    data = to_format(picture, fmt)
    with pytest.raises(MediaError, match="corrupt or truncated|cannot be decoded"):
        decode_image(data[: len(data) // 2])


def test_too_many_bytes_are_refused() -> None:
    with pytest.raises(MediaError, match="the limit is 1 MiB"):
        decode_image(b"\x89PNG" + b"\0" * (2 << 20), max_bytes=1 << 20)
