"""The server ``qrcheckout serve`` runs: uvicorn's, which as it stops first ends the app's event
streams cleanly (``realtime.streams``) instead of waiting out its grace period for them."""

from __future__ import annotations

import logging
import socket

import uvicorn

from qrcheckout.realtime.streams import Streams

log = logging.getLogger(__name__)


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, streams: Streams) -> None:
        super().__init__(config)
        self.streams = streams

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if stopped := self.streams.stop_all():
            log.info("ending %d event streams; their clients will connect again", stopped)
        await super().shutdown(sockets)
