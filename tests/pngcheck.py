"""Decode a PNG the bot uploaded: its size and which colours are drawn (matplotlib reads PNGs)."""

from __future__ import annotations

import io


def png_size_and_colours(data: bytes) -> tuple[tuple[int, int], set[tuple[int, int, int]]]:
    """A PNG decoded: (width, height) and its distinct RGB colours."""
    import matplotlib.image

    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    height, width = pixels.shape[:2]
    rgb = (pixels[:, :, :3] * 255).round().astype(int).reshape(-1, 3)
    colours = {(int(r), int(g), int(b)) for r, g, b in {tuple(row) for row in rgb.tolist()}}
    return (width, height), colours


def has_colour(colours: set[tuple[int, int, int]], hex_colour: str, tolerance: int = 6) -> bool:
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return any(all(abs(a - b) <= tolerance for a, b in zip(c, want, strict=True)) for c in colours)
