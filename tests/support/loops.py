"""Event loops that tests run in threads of their own, ended as ``asyncio.run`` ends its loop,
except that work still under way is let finish first.

A task left running when the loop closes can be a database driver's: SQLAlchemy closes an
aiosqlite connection it let go in a task of its own, and cancelled, that task leaves the
driver's thread answering a closed loop (an error in whichever test runs next).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

GRACE = 5.0  # seconds what is still running may take to finish before it is cancelled


def run_to_end(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on ``loop`` (in this thread), then end the loop."""
    try:
        loop.run_until_complete(main)
    finally:
        end(loop)


def end(loop: asyncio.AbstractEventLoop) -> None:
    """Let the loop's tasks finish (for up to ``GRACE``), cancel the rest, close the loop."""
    try:
        loop.run_until_complete(_settle())
    finally:
        loop.close()


async def _settle() -> None:
    loop = asyncio.get_running_loop()
    this = asyncio.current_task()
    if running := asyncio.all_tasks() - {this}:
        await asyncio.wait(running, timeout=GRACE)
    left = asyncio.all_tasks() - {this}
    for task in left:
        task.cancel()
    # Every outcome retrieved, the cancelled ones let unwind.
    await asyncio.gather(*running | left, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
