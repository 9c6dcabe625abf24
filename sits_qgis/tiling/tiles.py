"""The tile grid: square windows of a raster, aligned to its storage blocks.

A tile that starts and ends on block boundaries is read without decoding blocks that
belong to its neighbours, so tile edges are moved to the nearest block multiple where
blocks are smaller than the requested chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..errors import SitsError

MIN_CHUNK_SIZE = 16


@dataclass(frozen=True)
class TileWindow:
    """A tile's core window in pixel coordinates (rows ``row:row+height``)."""

    row: int
    col: int
    height: int
    width: int

    @property
    def row_end(self) -> int:
        return self.row + self.height

    @property
    def col_end(self) -> int:
        return self.col + self.width

    @property
    def label(self) -> str:
        """How messages name the tile."""
        return f"tile rows {self.row}-{self.row_end}, columns {self.col}-{self.col_end}"

    def expanded(
        self, depth: int, raster_height: int, raster_width: int
    ) -> tuple[TileWindow, tuple[tuple[int, int], tuple[int, int]]]:
        """The window grown by ``depth`` pixels, clipped to the raster, and the padding
        (rows before/after, columns before/after) that stands for the part outside."""
        r0, c0 = self.row - depth, self.col - depth
        r1, c1 = self.row_end + depth, self.col_end + depth
        cr0, cc0 = max(r0, 0), max(c0, 0)
        cr1, cc1 = min(r1, raster_height), min(c1, raster_width)
        clipped = TileWindow(cr0, cc0, cr1 - cr0, cc1 - cc0)
        return clipped, ((cr0 - r0, r1 - cr1), (cc0 - c0, c1 - cc1))


def aligned_step(chunk_size: int, block: int, extent: int) -> int:
    """The tile step along one axis: the chunk size moved to a whole number of blocks.

    Blocks as large as the raster (the rows of a striped file) cannot be aligned to and
    leave the chunk size as it is.
    """
    if block <= 1 or block >= extent:
        return chunk_size
    return max(1, round(chunk_size / block)) * block


def check_chunk_size(chunk_size: int) -> None:
    """Refuse chunk sizes too small to be worth a task."""
    if chunk_size < MIN_CHUNK_SIZE:
        raise SitsError(
            f"The chunk size must be at least {MIN_CHUNK_SIZE} pixels, not {chunk_size}:"
            " smaller tiles cost more in scheduling than they save in memory.",
            parameter="CHUNK_SIZE",
        )


def tile_grid(
    height: int, width: int, chunk_size: int, block_shape: Sequence[int] = (1, 1)
) -> list[TileWindow]:
    """Tiles covering a ``height`` x ``width`` raster once, in row-major order.

    Row-major order keeps consecutive tiles on the same rows, which striped files
    store together.
    """
    check_chunk_size(chunk_size)
    step_r = aligned_step(chunk_size, block_shape[0], height)
    step_c = aligned_step(chunk_size, block_shape[1], width)
    return [
        TileWindow(r, c, min(step_r, height - r), min(step_c, width - c))
        for r in range(0, height, step_r)
        for c in range(0, width, step_c)
    ]


def group_tiles(
    tiles: Sequence[TileWindow], pixels_per_task: int, min_tasks: int
) -> Iterator[list[TileWindow]]:
    """Consecutive tiles grouped into tasks of about ``pixels_per_task`` pixels.

    One dask task costs a few milliseconds of scheduling, as much as computing a
    statistic on a whole 512 x 512 tile, so small tiles travel together; at least
    ``min_tasks`` groups are kept (when there are enough tiles) so every worker has work.
    """
    if not tiles:
        return
    total = sum(t.height * t.width for t in tiles)
    target = max(1, min(pixels_per_task, total // max(1, min_tasks)))
    group: list[TileWindow] = []
    size = 0
    for tile in tiles:
        group.append(tile)
        size += tile.height * tile.width
        if size >= target:
            yield group
            group, size = [], 0
    if group:
        yield group
