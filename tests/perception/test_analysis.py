"""Image analysis: colours and regions of text and non-text, from pixels alone."""

from __future__ import annotations

from PIL import Image, ImageDraw

from ponder.perception.analysis import analyse
from ponder.perception.ocr import OcrLine


def test_dominant_colours_and_a_non_text_region() -> None:
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    for y in range(150, 280, 8):  # a striped red block: high contrast, no text
        draw.rectangle((220, y, 380, y + 4), fill=(220, 30, 30))
    result = analyse(image, [], image.size)
    names = [c.name for c in result.colours]
    assert names[0] == "white"
    assert "red" in names
    assert result.orientation == "landscape"
    (region,) = [r for r in result.regions if r.kind == "non-text"]
    x0, y0, x1, y1 = region.box
    assert 180 <= x0 <= 230 and 130 <= y0 <= 160 and x1 >= 370 and y1 >= 270


def test_text_regions_come_from_the_ocr_boxes() -> None:
    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).text((20, 20), "hello world", fill="black")
    lines = [OcrLine("hello world", (20, 20, 90, 32), 0.99)]
    result = analyse(image, lines, image.size)
    text = [r for r in result.regions if r.kind == "text"]
    assert len(text) == 1
    assert not [r for r in result.regions if r.kind == "non-text"]  # the text is not counted twice


def test_sizes_are_reported_in_original_pixels() -> None:
    image = Image.new("RGB", (100, 50), "black")
    result = analyse(image, [], (1000, 500))
    assert (result.width, result.height) == (1000, 500)
    assert result.brightness < 0.05
