"""OCR on rendered text (the real RapidOCR models): the words, their boxes, and reading order."""

from __future__ import annotations

from ponder.perception.images import decode_image
from ponder.perception.ocr import OcrEngine, OcrLine, reading_order
from ponder.testing.media import font_paths, render_lines, to_format


def test_reads_rendered_lines_in_order(ocr: OcrEngine) -> None:
    fonts = font_paths()
    image = render_lines(["Invoice 2041", "Total due 37.50"], font_path=fonts[0] if fonts else None, size=32)
    lines = ocr.read(image)
    assert [line.text for line in lines] == ["Invoice 2041", "Total due 37.50"]
    assert lines[0].row == 0 and lines[1].row == 1
    assert lines[0].box[1] < lines[1].box[1]  # the first line is above the second
    assert all(0.5 < line.score <= 1.0 for line in lines)


def test_table_cells_share_a_row_left_to_right(ocr: OcrEngine) -> None:
    image = render_lines([["Apples", "3"], ["Pears", "12"]], size=30, column_gap=160)
    lines = ocr.read(image)
    assert [(line.row, line.text) for line in lines] == [(0, "Apples"), (0, "3"), (1, "Pears"), (1, "12")]


def test_boxes_are_in_original_pixels_after_downscaling(ocr: OcrEngine) -> None:
    image = render_lines(["SCALE"], size=160, margin=200)
    decoded = decode_image(to_format(image, "PNG"), max_side=image.width // 2)
    (line,) = ocr.read(decoded.image, scale=decoded.scale)
    assert line.text == "SCALE"
    assert 150 <= line.box[0] <= 260  # the left margin is 200 original pixels
    assert line.box[2] <= image.width


def test_a_blank_image_has_no_lines(ocr: OcrEngine) -> None:
    assert ocr.read(render_lines([" "])) == []


def test_reading_order_groups_rows_by_vertical_centre() -> None:
    lines = [
        OcrLine("b", (200, 12, 260, 40), 1.0),
        OcrLine("c", (10, 60, 80, 90), 1.0),
        OcrLine("a", (10, 10, 80, 38), 1.0),
    ]
    assert [(ln.row, ln.text) for ln in reading_order(lines)] == [(0, "a"), (0, "b"), (1, "c")]
