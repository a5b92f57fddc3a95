"""PNG encoding for the pages: one generated image (uint8 [C, H, W], C = 1 or 3) → PNG bytes."""
from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image


def png_bytes(img: torch.Tensor) -> bytes:
    arr = img.detach().cpu().numpy()
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[0] == 1:
        pil = Image.fromarray(np.ascontiguousarray(arr[0]), "L")
    else:
        pil = Image.fromarray(np.ascontiguousarray(arr[:3].transpose(1, 2, 0)), "RGB")
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
