"""Object-detection kernels: greedy non-maximum suppression (ONNX's NonMaxSuppression).
The number of boxes kept is known only when the function runs, so that output dim is None."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import ShapeError
from ..graph import TensorType
from .base import Op, as_variable

__all__ = ["NonMaxSuppression", "non_max_suppression"]


def _corners(boxes, center: bool):
    if center:
        cx, cy, w, h = boxes.unbind(-1)
        return torch.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)
    y1, x1, y2, x2 = boxes.unbind(-1)
    return torch.stack([torch.minimum(y1, y2), torch.minimum(x1, x2), torch.maximum(y1, y2),
                        torch.maximum(x1, x2)], -1)


def _iou(box, others):
    y1 = torch.maximum(box[0], others[:, 0])
    x1 = torch.maximum(box[1], others[:, 1])
    y2 = torch.minimum(box[2], others[:, 2])
    x2 = torch.minimum(box[3], others[:, 3])
    inter = (y2 - y1).clamp(min=0) * (x2 - x1).clamp(min=0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return torch.where((inter > 0) & (union > 0) & (area > 0) & (areas > 0), inter / union,
                       torch.zeros_like(inter))


@dataclass(frozen=True)
class NonMaxSuppression(Op):
    """Inputs: boxes (B, N, 4), scores (B, C, N), max boxes per class, IoU threshold, score
    threshold (scalars). Output: (selected, 3) int64 rows of (batch, class, box)."""
    center_point_box: bool = False
    name: ClassVar[str] = "non_max_suppression"
    capturable: ClassVar[bool] = False  # reads scores on the host; its output shape depends on them
    differentiable: ClassVar[bool] = False

    def infer(self, boxes, scores, max_out, iou, score_min):
        if boxes.ndim != 3 or scores.ndim != 3:
            raise ShapeError(f"non_max_suppression: boxes (B, N, 4) and scores (B, C, N), got "
                             f"{boxes.type} and {scores.type}")
        return [TensorType("int64", (None, 3))]

    def kernel(self, boxes, scores, max_out, iou, score_min):
        limit, iou_t, score_t = int(max_out), float(iou), float(score_min)
        rows = []
        corners = _corners(boxes.double(), self.center_point_box)
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                s = scores[b, c].double()
                order = [int(i) for i in torch.sort(s, descending=True, stable=True).indices
                         if float(s[i]) > score_t]
                kept = []
                for i in order:
                    if len(kept) >= limit:
                        break
                    if kept and bool((_iou(corners[b, i], corners[b, kept]) > iou_t).any()):
                        continue
                    kept.append(i)
                rows += [(b, c, i) for i in kept]
        return torch.tensor(rows, dtype=torch.int64, device=boxes.device).reshape(-1, 3)


def non_max_suppression(boxes, scores, max_output_boxes_per_class=0, iou_threshold=0.0,
                        score_threshold=float("-inf"), center_point_box=False):
    """Greedy NMS per batch and class; rows of (batch, class, box index) kept, best first."""
    args = [as_variable(boxes), as_variable(scores), as_variable(max_output_boxes_per_class),
            as_variable(iou_threshold), as_variable(score_threshold)]
    return NonMaxSuppression(bool(center_point_box))(*args)
