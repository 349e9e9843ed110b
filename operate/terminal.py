"""The terminal: its size, whether to colour, and redrawing a frame in place.

Colour only on a terminal, never when `NO_COLOR` is set to anything non-empty
(no-color.org) or `TERM=dumb`. Width: the terminal's, none (no cutting) when the
output is a pipe or a file, as kubectl does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import TextIO

from operate.render import Style

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def style_for(stream: TextIO, environ: Mapping[str, str] | None = None) -> Style:
    env = os.environ if environ is None else environ
    if not is_terminal(stream):
        return Style(width=None, colour=False)
    colour = not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    return Style(width=shutil.get_terminal_size().columns, colour=colour)


def height() -> int:
    return shutil.get_terminal_size().lines


class Screen:
    """Redraws a frame in place: moves the cursor up over the previous frame and
    clears to the end of the screen. Frames must fit the terminal's height (the
    caller cuts them), or the part scrolled off could not be reached again."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = 0

    def draw(self, lines: Sequence[str]) -> None:
        out = [HIDE_CURSOR]
        if self.drawn:
            out.append(f"\x1b[{self.drawn}F")  # to column 1, `drawn` lines up
        out.append("\x1b[J")
        out.append("".join(line + "\x1b[K\n" for line in lines))
        self.stream.write("".join(out))
        self.stream.flush()
        self.drawn = len(lines)

    def close(self) -> None:
        self.stream.write(SHOW_CURSOR)
        self.stream.flush()
