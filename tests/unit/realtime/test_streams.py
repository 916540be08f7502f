"""The app's event streams as the server stops: each stopped stream ends as its handler ends
it; a cancel from anywhere else (a hang-up, the server cancelling) still goes through."""

from __future__ import annotations

import asyncio

import pytest

from qrcheckout.realtime.streams import Streams


async def _serve(streams: Streams, started: asyncio.Event) -> str:
    async with streams.open() as stream:
        started.set()
        await asyncio.sleep(3600)
    return "stopped" if stream.ended else "ended"


async def _opened(streams: Streams) -> asyncio.Task[str]:
    started = asyncio.Event()
    task = asyncio.create_task(_serve(streams, started))
    await started.wait()
    return task


def test_a_stopped_stream_is_left_quietly_for_its_handler_to_end() -> None:
    async def scenario() -> list[str]:
        streams = Streams()
        tasks = [await _opened(streams) for _ in range(3)]
        assert streams.stop_all() == 3
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == ["stopped"] * 3


def test_a_stream_opened_while_stopping_is_stopped_at_its_first_wait() -> None:
    async def scenario() -> str:
        streams = Streams()
        streams.stop_all()
        return await asyncio.wait_for(await _opened(streams), 1)

    assert asyncio.run(scenario()) == "stopped"


@pytest.mark.parametrize("stopped_too", [False, True])
def test_a_cancel_from_elsewhere_is_not_swallowed(stopped_too: bool) -> None:
    async def scenario() -> None:
        streams = Streams()
        task = await _opened(streams)
        task.cancel()
        if stopped_too:
            streams.stop_all()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
