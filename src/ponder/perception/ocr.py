"""OCR with positions: text lines, their boxes, and reading order.

The engine is RapidOCR (PP-OCR detection and recognition models as ONNX, shipped inside the ``rapidocr``
wheel, run by onnxruntime); it is loaded once, on first use, from the wheel's own files. Nothing is
downloaded: if the models are not in the wheel, loading fails with a clear error.

Reading order: lines are grouped into rows (lines whose vertical centres lie within half a line height of
each other), rows from top to bottom, lines in a row from left to right. That keeps a table's cells, a
receipt's item and price, and a label and its value on one row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ponder.errors import PerceptionUnavailableError

__all__ = ["OcrEngine", "OcrLine", "reading_order"]


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the original image's pixels
    score: float  # recognition confidence, 0..1
    row: int = 0  # index of its row in reading order

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def centre_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Lines sorted into rows (top to bottom) and, within a row, left to right; ``row`` set on each."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: ln.centre_y):
        if rows:
            row = rows[-1]
            height = float(np.median([ln.height for ln in row] + [line.height]))
            if abs(line.centre_y - np.mean([ln.centre_y for ln in row])) <= height / 2:
                row.append(line)
                continue
        rows.append([line])
    ordered: list[OcrLine] = []
    for index, row in enumerate(rows):
        for line in sorted(row, key=lambda ln: ln.box[0]):
            ordered.append(OcrLine(line.text, line.box, line.score, index))
    return ordered


class OcrEngine:
    """RapidOCR, loaded lazily and shared; calls are serialised (the ONNX sessions are not re-entrant)."""

    name = "rapidocr (PP-OCRv6 small, onnxruntime)"

    def __init__(self, *, threads: int = 2, min_score: float = 0.5) -> None:
        self.threads = threads
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        try:
            from rapidocr import RapidOCR
        except ImportError as err:
            raise PerceptionUnavailableError(
                f"Reading the text in images needs the vision extra (rapidocr, onnxruntime: {err}). "
                'Install it with:\n  pip install "ponder[vision]"'
                "\nor send images to a vision model, which reads them itself ([models.NAME] vision = true)."
            ) from None
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        params = {
            "Global.log_level": "warning",
            "Global.text_score": self.min_score,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        try:
            return RapidOCR(params=params)
        except Exception as err:  # a missing model file, an onnxruntime that will not load
            raise PerceptionUnavailableError(f"The OCR engine cannot start: {err}") from None

    def read(self, image: Image.Image, *, scale: float = 1.0) -> list[OcrLine]:
        """The text lines of an RGB image in reading order; boxes scaled by ``scale`` to the original."""
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            result = self._engine(np.asarray(image.convert("RGB"))[:, :, ::-1])  # RapidOCR wants BGR
        boxes = getattr(result, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return []
        lines = []
        for quad, text, score in zip(boxes, result.txts, result.scores, strict=True):
            if not str(text).strip():
                continue
            xs, ys = np.asarray(quad)[:, 0] * scale, np.asarray(quad)[:, 1] * scale
            box = (int(xs.min()), int(ys.min()), round(float(xs.max())), round(float(ys.max())))
            lines.append(OcrLine(str(text).strip(), box, float(score)))
        return reading_order(lines)
