"""When open objects expire: a heap by deadline, so a tick touches only what is due."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator


class ExpiryIndex:
    """Object ids by deadline, earliest first; ties in the order they were added.

    Entries are never removed early: an object closed some other way (paid, expired on request)
    is still handed out when its deadline comes, and the caller skips it.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, object_id: str, deadline: int) -> None:
        heapq.heappush(self._heap, (deadline, next(self._order), object_id))

    def due(self, now: int) -> Iterator[str]:
        """Take out, one at a time, each id whose deadline is ``now`` or earlier."""
        while self._heap and self._heap[0][0] <= now:
            yield heapq.heappop(self._heap)[2]
