"""The visual context: what OCR and image analysis extracted from an image, written for a text model.

It is labelled as extracted, names the path that produced it, and says plainly that the picture itself was
not seen, so the model does not invent a description. Text comes in reading order, one row per line with
each item's box, which keeps a table's columns, a receipt's item and price, and a chart's labels together;
a closing line asks the model to reason over that layout (rows, columns, labels, values) step by step.
"""

from __future__ import annotations

from ponder.perception.analysis import ImageAnalysis
from ponder.perception.ocr import OcrLine

__all__ = ["PATH_OCR", "visual_context"]

PATH_OCR = "ocr+analysis"
_MAX_ROWS = 80  # a visual context is at most this many rows of text; the rest is counted, not shown


def _box(box: tuple[int, int, int, int]) -> str:
    return "({},{})-({},{})".format(*box)


def visual_context(
    label: str, fmt: str, analysis: ImageAnalysis, lines: list[OcrLine], engine: str, *, frames: int = 1
) -> str:
    """The text that stands in for an image in the conversation."""
    out = [
        f'<visual_context image="{label}" extracted_by="OCR ({engine}) and image analysis">',
        "This was extracted from the image by OCR and plain image analysis. The picture itself was not seen: "
        "say only what is below, and do not guess what the image shows beyond it.",
    ]
    colours = ", ".join(f"{c.name} {c.share:.0%}" for c in analysis.colours[:5]) or "unknown"
    brightness = "dark" if analysis.brightness < 0.35 else "bright" if analysis.brightness > 0.7 else "medium"
    animated = f", animated ({frames} frames; the first was read)" if frames > 1 else ""
    out.append(
        f"Image: {fmt}, {analysis.width}x{analysis.height} pixels, {analysis.orientation}{animated}; "
        f"{brightness}; colours: {colours}."
    )
    regions = [f"{r.kind} at {_box(r.box)} ({r.share:.0%} of the area)" for r in analysis.regions]
    if regions:
        out.append("Regions (x0,y0)-(x1,y1) in pixels: " + "; ".join(regions) + ".")
    non_text = [r for r in analysis.regions if r.kind == "non-text"]
    if non_text:
        out.append(
            "Non-text regions hold something other than text (a photo, logo, chart or drawing); what it "
            "depicts is unknown."
        )
    if not lines:
        out.append("No text was found in the image.")
    else:
        rows: dict[int, list[OcrLine]] = {}
        for line in lines:
            rows.setdefault(line.row, []).append(line)
        out.append(
            f"Text ({len(lines)} items in {len(rows)} rows), in reading order; items on one row are "
            'separated by " | ", each with its box:'
        )
        for shown, (row, items) in enumerate(sorted(rows.items())):
            if shown == _MAX_ROWS:
                out.append(f"... and {len(rows) - _MAX_ROWS} more rows not shown.")
                break
            cells = " | ".join(f"{item.text} {_box(item.box)}" for item in items)
            out.append(f"row {row + 1}: {cells}")
        out.append(
            "To answer from this text, reason over its layout step by step: find the row and column, or "
            "the label, that the question is about, then read the value beside or below it."
        )
    out.append("</visual_context>")
    return "\n".join(out)
