"""Plain image analysis: what can be said about a picture without a model that sees it.

Size, dominant colours (median-cut quantisation, named after the nearest of a small palette), brightness,
and regions: where the text is (the union of OCR boxes, merged into blocks) and where other content is
(areas of high local contrast that hold no text: photos, logos, charts, drawings). Nothing here claims to
know *what* a region shows; it says where something is.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ponder.perception.ocr import OcrLine

__all__ = ["Colour", "ImageAnalysis", "Region", "analyse"]

_PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "dark grey": (64, 64, 64),
    "grey": (128, 128, 128),
    "light grey": (200, 200, 200),
    "white": (255, 255, 255),
    "red": (220, 30, 30),
    "dark red": (128, 0, 0),
    "orange": (255, 140, 0),
    "yellow": (255, 220, 0),
    "brown": (140, 80, 30),
    "beige": (230, 215, 180),
    "green": (40, 170, 60),
    "dark green": (0, 90, 30),
    "teal": (0, 128, 128),
    "light blue": (140, 190, 240),
    "blue": (30, 90, 220),
    "navy": (0, 0, 110),
    "purple": (130, 50, 170),
    "pink": (240, 140, 190),
}
_CELL = 16  # analysis grid, in pixels of the (at most 512-pixel) working copy


@dataclass(frozen=True)
class Colour:
    hex: str
    name: str  # the nearest palette name
    share: float  # fraction of the pixels


@dataclass(frozen=True)
class Region:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in original pixels
    kind: str  # "text" or "non-text"
    share: float  # fraction of the image's area


@dataclass(frozen=True)
class ImageAnalysis:
    width: int
    height: int
    colours: tuple[Colour, ...]
    brightness: float  # mean luminance, 0 (black) .. 1 (white)
    regions: tuple[Region, ...]

    @property
    def orientation(self) -> str:
        if abs(self.width - self.height) <= 0.05 * max(self.width, self.height):
            return "square"
        return "landscape" if self.width > self.height else "portrait"


def _name(rgb: tuple[int, int, int]) -> str:
    return min(_PALETTE, key=lambda n: sum((a - b) ** 2 for a, b in zip(_PALETTE[n], rgb, strict=True)))


def _colours(image: Image.Image, count: int = 5) -> tuple[Colour, ...]:
    small = image.copy()
    small.thumbnail((128, 128))
    quantised = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    counts = sorted(quantised.getcolors() or [], reverse=True)
    total = sum(c for c, _ in counts) or 1
    merged: dict[str, tuple[str, float]] = {}  # name -> (hex of its largest cluster, share)
    for n, entry in counts:
        index = entry if isinstance(entry, int) else 0  # a palette index, for a "P" image
        rgb = (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2])
        name = _name(rgb)
        hex_, share = merged.get(name, ("#{:02x}{:02x}{:02x}".format(*rgb), 0.0))
        merged[name] = (hex_, share + n / total)
    ranked = sorted(merged.items(), key=lambda item: -item[1][1])
    return tuple(Colour(hex_, name, round(share, 3)) for name, (hex_, share) in ranked if share >= 0.02)


def _components(mask: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """Bounding boxes (r0, c0, r1, c1, cells) of 8-connected True areas of a small grid."""
    seen = np.zeros_like(mask, dtype=bool)
    rows, cols = mask.shape
    found = []
    for r in range(rows):
        for c in range(cols):
            if not mask[r, c] or seen[r, c]:
                continue
            queue = deque([(r, c)])
            seen[r, c] = True
            r0, c0, r1, c1, cells = r, c, r, c, 0
            while queue:
                y, x = queue.popleft()
                cells += 1
                r0, c0, r1, c1 = min(r0, y), min(c0, x), max(r1, y), max(c1, x)
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = y + dy, x + dx
                        if 0 <= ny < rows and 0 <= nx < cols and mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
            found.append((r0, c0, r1 + 1, c1 + 1, cells))
    return found


def _regions(image: Image.Image, lines: list[OcrLine], original: tuple[int, int]) -> tuple[Region, ...]:
    work = image.convert("L")
    work.thumbnail((512, 512))
    grey = np.asarray(work, dtype=np.float32) / 255.0
    rows, cols = grey.shape[0] // _CELL, grey.shape[1] // _CELL
    if rows == 0 or cols == 0:
        return ()
    to_work = work.width / original[0]  # original pixels -> working pixels
    cells = grey[: rows * _CELL, : cols * _CELL].reshape(rows, _CELL, cols, _CELL)
    busy = cells.std(axis=(1, 3)) > 0.08  # edges, texture or drawing in the cell
    text = np.zeros((rows, cols), dtype=bool)
    for line in lines:
        x0, y0, x1, y1 = (int(v * to_work) for v in line.box)
        text[max(0, y0 // _CELL - 1) : y1 // _CELL + 2, max(0, x0 // _CELL - 1) : x1 // _CELL + 2] = True
    area = rows * cols
    cell = _CELL / to_work
    regions = []
    for mask, kind, min_cells in ((text, "text", 1), (busy & ~text, "non-text", max(4, area // 100))):
        for r0, c0, r1, c1, n in _components(mask):
            if n < min_cells:
                continue
            box = (
                int(c0 * cell),
                int(r0 * cell),
                min(original[0], int(c1 * cell)),
                min(original[1], int(r1 * cell)),
            )
            regions.append(Region(box, kind, round((r1 - r0) * (c1 - c0) / area, 3)))
    regions.sort(key=lambda g: (g.box[1], g.box[0]))
    return tuple(regions[:12])


def analyse(image: Image.Image, lines: list[OcrLine], original_size: tuple[int, int]) -> ImageAnalysis:
    """Analyse an RGB image (possibly downscaled from ``original_size``) with the OCR lines found in it."""
    luminance = np.asarray(image.convert("L"), dtype=np.float32).mean() / 255.0
    return ImageAnalysis(
        width=original_size[0],
        height=original_size[1],
        colours=_colours(image),
        brightness=round(float(luminance), 3),
        regions=_regions(image, lines, original_size),
    )
