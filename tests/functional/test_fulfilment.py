"""Exactly-once fulfilment: an order's completing Stripe event grants once and tells the shop once.

The completing event is ``checkout.session.completed`` for the order's checkout token (the
service finds the token by ``metadata.token_id``), forged and signed with ``WEBHOOK_SECRET`` the
way Stripe signs it. Whatever happens to its delivery (repeated, concurrent, or cut short by a
killed server process), the order ends ``completed`` with exactly one entitlement, and the
merchant's endpoint (an ``Inbox``) receives exactly one ``order.completed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import stripe

from tests.conftest import WEBHOOK_SECRET, ServerFactory
from tests.support.auth import API_KEY, JWT_SECRET, buyer, merchant
from tests.support.receiver import Inbox
from tests.support.server import RunningServer, wait_until
from tests.support.stripe_events import encode, session_event, signature

MERCHANT_SECRET = "whsec_merchant_test_" + "fedcba9876543210" * 2
ITEMS = [{"product_id": "espresso", "quantity": 2}]
# Long enough for a second order.completed to show up: deliveries are retried every
# webhook_retry_base_seconds (0.1 s here) and the background job ticks every 0.2 s.
QUIET_SECONDS = 1.5


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    # Requested before make_server, so it is closed after every server has stopped.
    with Inbox() as receiver:
        yield receiver


def _configured(make_server: ServerFactory, inbox: Inbox) -> RunningServer:
    return make_server(
        jwt_secret=JWT_SECRET,
        api_key=API_KEY,
        merchant_webhook_urls=inbox.url,
        merchant_webhook_secret=MERCHANT_SECRET,
    )


def _create_order(client: httpx.Client, sub: str) -> dict[str, Any]:
    response = client.post("/v1/orders", json={"items": ITEMS}, headers=buyer(sub))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    assert order["status"] == "pending", order
    assert order["payment_mode"] == "stripe" and order["token_id"], order
    assert order["amount"] > 0 and order["amount_paid"] == 0, order
    return order


def _session_id(client: httpx.Client, order: dict[str, Any]) -> str:
    """The token's Stripe session id, once its payment page has been opened; else a forged one."""
    path = f"/v1/tokens/{order['token_id']}"
    found = client.get(path).json().get("stripe_session_id")
    if not found and order.get("payment_url"):
        with contextlib.suppress(httpx.HTTPError):
            client.get(order["payment_url"], follow_redirects=False)
        found = client.get(path).json().get("stripe_session_id")
    return found or "cs_test_" + secrets.token_hex(12)


def _completed_event(client: httpx.Client, order: dict[str, Any]) -> str:
    """The signed-once payload of the order's ``checkout.session.completed``."""
    event = session_event(
        "checkout.session.completed",
        session_id=_session_id(client, order),
        token_id=order["token_id"],
        amount_total=order["amount"],
        currency=order["currency"],
    )
    return encode(event)


def _post_event(client: httpx.Client, payload: str) -> httpx.Response:
    # Signed afresh on each delivery, as Stripe does when it retries.
    return client.post(
        "/v1/webhooks/stripe",
        content=payload,
        headers={
            "Stripe-Signature": signature(payload, WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
    )


def _order(client: httpx.Client, order_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _entitlements(client: httpx.Client, sub: str) -> list[dict[str, Any]]:
    response = client.get("/v1/me/entitlements", headers=buyer(sub))
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _completed_posts(inbox: Inbox, order_id: str) -> list[tuple[dict[str, str], bytes]]:
    posts = []
    for headers, body, _status in list(inbox.received):
        event = json.loads(body)
        if event["type"] == "order.completed" and event["data"]["object"]["id"] == order_id:
            posts.append((headers, body))
    return posts


def _assert_fulfilled_once(
    client: httpx.Client, inbox: Inbox, order: dict[str, Any], sub: str
) -> None:
    """Completed, one entitlement, and one order.completed (with no second one coming)."""
    done = wait_until(
        lambda: (o := _order(client, order["id"]))["status"] == "completed" and o, timeout=10
    )
    assert done["amount_paid"] == order["amount"] and done["amount_due"] == 0, done
    assert done["completed_at"] is not None, done

    [entitlement] = _entitlements(client, sub)
    assert entitlement["order_id"] == order["id"], entitlement
    assert entitlement["product_id"] == "espresso" and entitlement["quantity"] == 2, entitlement
    assert entitlement["owner"] == sub and entitlement["revoked_at"] is None, entitlement

    wait_until(lambda: _completed_posts(inbox, order["id"]), timeout=15)
    time.sleep(QUIET_SECONDS)
    posts = _completed_posts(inbox, order["id"])
    assert len(posts) == 1, [json.loads(body)["id"] for _, body in posts]
    [(headers, body)] = posts
    # The shop can check it came from us (raises if the signature is wrong).
    stripe.WebhookSignature.verify_header(
        body.decode(), headers["Qrcheckout-Signature"], MERCHANT_SECRET
    )
    event = json.loads(body)
    assert headers["Qrcheckout-Event-Id"] == event["id"]
    assert event["data"]["object"]["status"] == "completed", event
    assert len(_entitlements(client, sub)) == 1


# -- (a) the same event twice ----------------------------------------------------------------


def test_completed_event_delivered_twice_fulfils_once(
    inbox: Inbox, make_server: ServerFactory
) -> None:
    server = _configured(make_server, inbox)
    sub = "buyer-twice"
    order = _create_order(server.client, sub)
    payload = _completed_event(server.client, order)

    first, second = _post_event(server.client, payload), _post_event(server.client, payload)

    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert [first.json()["duplicate"], second.json()["duplicate"]] == [False, True]
    _assert_fulfilled_once(server.client, inbox, order, sub)

    # The delivery log shows the one event, delivered once.
    [(_, body)] = _completed_posts(inbox, order["id"])
    event_id = json.loads(body)["id"]
    response = server.client.get(
        "/v1/webhook-deliveries", params={"event": event_id}, headers=merchant()
    )
    assert response.status_code == 200, response.text
    deliveries = response.json()["data"]
    assert [(d["event"], d["type"], d["succeeded"]) for d in deliveries] == [
        (event_id, "order.completed", True)
    ], deliveries


# -- (b) the same event twenty times at once -------------------------------------------------


def test_completed_event_delivered_twenty_times_concurrently_fulfils_once(
    inbox: Inbox, make_server: ServerFactory
) -> None:
    server = _configured(make_server, inbox)
    sub = "buyer-burst"
    order = _create_order(server.client, sub)
    payload = _completed_event(server.client, order)
    n = 20
    start = threading.Barrier(n)
    responses: list[httpx.Response | BaseException | None] = [None] * n

    def deliver(i: int) -> None:
        # Each thread its own client, so its own connection.
        with httpx.Client(base_url=server.url, timeout=60) as client:
            start.wait(timeout=30)
            try:
                responses[i] = _post_event(client, payload)
            except Exception as exc:
                responses[i] = exc

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads)

    statuses = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in responses]
    assert statuses == [200] * n
    answers = [r for r in responses if isinstance(r, httpx.Response)]
    assert sum(not answer.json()["duplicate"] for answer in answers) == 1
    _assert_fulfilled_once(server.client, inbox, order, sub)


# -- (c) the server process killed mid-processing, then the event redelivered ----------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    """``qrcheckout serve`` in its own process, on the given database and data directory."""

    def __init__(self, database_url: str, data_dir: Path, inbox: Inbox, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QRCHECKOUT_")}
        env.update(
            {
                "QRCHECKOUT_DATABASE_URL": database_url,
                "QRCHECKOUT_PUBLIC_URL": self.url,
                "QRCHECKOUT_DATA_DIR": str(data_dir),
                "QRCHECKOUT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "QRCHECKOUT_JWT_SECRET": JWT_SECRET,
                "QRCHECKOUT_API_KEY": API_KEY,
                "QRCHECKOUT_MERCHANT_WEBHOOK_URLS": inbox.url,
                "QRCHECKOUT_MERCHANT_WEBHOOK_SECRET": MERCHANT_SECRET,
                "QRCHECKOUT_WEBHOOK_RETRY_BASE_SECONDS": "0.1",
                "QRCHECKOUT_EXPIRY_INTERVAL_SECONDS": "0.2",
                "QRCHECKOUT_CATCH_UP_INTERVAL_SECONDS": "0.2",
                "NO_PROXY": "127.0.0.1,localhost",
            }
        )
        executable = Path(sys.executable).with_name("qrcheckout")
        self.log = log
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            [str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=data_dir,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=60, trust_env=False)

    def wait_healthy(self, timeout: float = 60) -> ServeProcess:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"qrcheckout serve exited {self.proc.returncode}: {self.tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if self.client.get("/healthz", timeout=2).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise AssertionError(f"qrcheckout serve not healthy in {timeout}s: {self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no rollback sent; the OS just closes its sockets."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)

    def close(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()


class PendingPost:
    """The webhook POSTed over a plain socket, its answer read on a thread.

    A socket of our own lets the test see, in the kernel's table of TCP connections, when the
    server has taken every byte of the request off the wire (``taken``): from then on, the
    request is in the server's hands, and an answer that has not come is one being worked on.
    """

    def __init__(self, url: str, payload: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.server_port = int(port)
        body = payload.encode()
        head = (
            f"POST /v1/webhooks/stripe HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
            f"Stripe-Signature: {signature(payload, WEBHOOK_SECRET)}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.sock = socket.create_connection((host, self.server_port), timeout=120)
        self.sock.sendall(head.encode() + body)
        self.local_port = self.sock.getsockname()[1]
        self.answer = b""
        self.error: OSError | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.answer += chunk
        except OSError as exc:  # reset by a killed server
            self.error = exc
        finally:
            self.sock.close()

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    @property
    def taken(self) -> bool:
        """Every byte we sent was delivered, and the server's side has none left to read."""
        queues = _tcp_queues()
        ours = queues.get((self.local_port, self.server_port))
        theirs = queues.get((self.server_port, self.local_port))
        return ours is not None and theirs is not None and ours[0] == 0 and theirs[1] == 0

    @property
    def unanswered(self) -> bool:
        """The connection ended with not a byte of an answer."""
        return self.done and self.answer == b""


def _tcp_queues() -> dict[tuple[int, int], tuple[int, int]]:
    """``(local port, remote port) -> (send queue, receive queue)`` of loopback TCP sockets."""
    queues = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, (sent, received) = fields[1], fields[2], fields[4].split(":")
        queues[(int(local.split(":")[1], 16), int(remote.split(":")[1], 16))] = (
            int(sent, 16),
            int(received, 16),
        )
    return queues


def _wait_taken(post: PendingPost) -> None:
    """Until the server has read the whole request; it must not have answered by then."""
    wait_until(lambda: post.taken or post.done, timeout=20)
    assert not post.done, f"the webhook was answered while the database was locked: {post.answer!r}"


class PostgresLock:
    """``LOCK TABLE entitlements IN ACCESS EXCLUSIVE MODE`` held in an open transaction.

    Nothing can read or write ``entitlements`` until it is released, so the webhook's
    transaction stops at its first touch of that table, having done everything before it.
    """

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection | None = None
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def connect(self) -> None:
        self.conn = self.run(asyncpg.connect(self.dsn))

    def lock(self) -> None:
        assert self.conn is not None
        self.run(self.conn.execute("BEGIN"))
        self.run(self.conn.execute("LOCK TABLE entitlements IN ACCESS EXCLUSIVE MODE"))

    def waiters(self) -> list[tuple[int, list[str]]]:
        """Backends waiting for ``entitlements``, with the tables their transaction wrote to."""
        assert self.conn is not None
        rows = self.run(
            self.conn.fetch(
                """
                SELECT a.pid,
                       array(SELECT c.relname::text
                               FROM pg_locks w JOIN pg_class c ON c.oid = w.relation
                              WHERE w.pid = a.pid AND w.granted AND c.relkind = 'r'
                                AND w.mode = 'RowExclusiveLock'
                              ORDER BY 1) AS written
                  FROM pg_stat_activity a
                  JOIN pg_locks l ON l.pid = a.pid
                 WHERE a.datname = current_database()
                   AND a.pid <> pg_backend_pid()
                   AND a.wait_event_type = 'Lock'
                   AND NOT l.granted
                   AND l.relation = 'entitlements'::regclass
                """
            )
        )
        return [(row["pid"], list(row["written"])) for row in rows]

    def others(self) -> list[int]:
        assert self.conn is not None
        rows = self.run(
            self.conn.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        return [row["pid"] for row in rows]

    def release(self) -> None:
        if self.conn is not None and self.conn.is_in_transaction():
            self.run(self.conn.execute("ROLLBACK"))

    def terminate(self, pids: list[int]) -> None:
        assert self.conn is not None
        for pid in pids:
            self.run(self.conn.execute("SELECT pg_terminate_backend($1)", pid))

    def close(self) -> None:
        try:
            if self.conn is not None:
                self.release()
                self.run(self.conn.close())
        finally:
            self.loop.close()


def _kill_mid_processing_postgres(
    database_url: str, serving: ServeProcess, payload: str
) -> PendingPost:
    """PostgreSQL: block the webhook's transaction on ``entitlements``, then SIGKILL the server.

    The test takes ``LOCK TABLE entitlements IN ACCESS EXCLUSIVE MODE`` in an open transaction
    and posts the event. Once ``pg_stat_activity``/``pg_locks`` show the server's backend waiting
    for that lock (``wait_event_type = 'Lock'``) after its transaction has written rows (the
    event's claim, the order's move), the server is SIGKILLed. The lock is released, and the
    orphaned backend, whose client is gone, aborts its transaction.
    """
    lock = PostgresLock(database_url)
    try:
        lock.connect()
        lock.lock()
        post = PendingPost(serving.url, payload)
        _wait_taken(post)
        deadline = time.monotonic() + 20
        while not (waiting := lock.waiters()):
            assert not post.done, (
                f"the webhook answered while entitlements was locked: {post.answer!r}; "
                "it did not grant inside its transaction"
            )
            assert time.monotonic() < deadline, "no backend waited for the entitlements lock"
            time.sleep(0.05)
        # Mid-transaction: it has written rows (claimed the event, moved the order) and now
        # waits to grant. Print for the record (pytest -s shows it).
        print(f"backend(s) waiting on entitlements, with the tables written: {waiting}")
        assert any({"provider_events", "orders"} <= set(written) for _, written in waiting), waiting
        assert not post.done
        serving.kill()
        lock.release()
        # The killed server's backends go once they notice the closed socket; a backend that
        # has not noticed is terminated, so no half-done transaction lingers either way.
        deadline = time.monotonic() + 10
        while (left := lock.others()) and time.monotonic() < deadline:
            time.sleep(0.05)
        lock.terminate(left)
        wait_until(lambda: not lock.others(), timeout=10)
        return post
    finally:
        lock.close()


def _kill_mid_processing_sqlite(
    database_url: str, serving: ServeProcess, payload: str
) -> PendingPost:
    """SQLite: hold the database's write lock (``BEGIN IMMEDIATE``), post, SIGKILL the server.

    qrcheckout opens every SQLite write transaction with ``BEGIN IMMEDIATE``, which takes the
    write lock before any statement runs, so nothing can block a transaction halfway; SQLite
    transactions are atomic in any case. The nearest equivalent: the test holds the write lock
    from its own ``sqlite3`` connection, so the server's webhook handling waits on its write
    (``busy_timeout``), and the server is SIGKILLed while it waits. Then the lock is released.
    """
    path = database_url.split(":///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        post = PendingPost(serving.url, payload)
        _wait_taken(post)  # the request is in, waiting on the write lock (up to 30 s)
        serving.kill()
        conn.execute("ROLLBACK")
        return post
    finally:
        conn.close()


def test_completed_event_replayed_after_the_server_was_killed_mid_processing_fulfils_once(
    inbox: Inbox, database_url: str, tmp_path: Path
) -> None:
    """A SIGKILLed ``qrcheckout serve`` process, a new one on the same database, the event again.

    PostgreSQL blocks the webhook's own transaction on ``LOCK TABLE entitlements``; SQLite holds
    the database's write lock (``BEGIN IMMEDIATE``). See the two helpers above.
    """
    sub = "buyer-crash"
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    log = tmp_path / "serve.log"
    processes: list[ServeProcess] = []
    try:
        first = ServeProcess(database_url, data_dir, inbox, log)
        processes.append(first)
        first.wait_healthy()
        order = _create_order(first.client, sub)
        payload = _completed_event(first.client, order)

        if database_url.startswith("postgresql"):
            post = _kill_mid_processing_postgres(database_url, first, payload)
        else:
            post = _kill_mid_processing_sqlite(database_url, first, payload)
        post.thread.join(timeout=30)
        assert post.unanswered, post.answer  # killed with the request in its hands
        assert _completed_posts(inbox, order["id"]) == []  # nothing committed, nothing told

        second = ServeProcess(database_url, data_dir, inbox, log)
        processes.append(second)
        second.wait_healthy()
        # Before the redelivery: untouched (pending, nothing granted), or already recovered by
        # the service itself (a stored, unprocessed event reprocessed at start); never half.
        time.sleep(2)
        # Two reads are not one snapshot: read until the order did not move around them.
        for _ in range(20):
            before = _order(second.client, order["id"])
            granted = _entitlements(second.client, sub)
            if _order(second.client, order["id"])["status"] == before["status"]:
                break
        print(f"after restart, before redelivery: {before['status']}, {len(granted)} granted")
        assert (before["status"], len(granted)) in {("pending", 0), ("completed", 1)}, (
            before,
            granted,
        )

        again = _post_event(second.client, payload)
        assert again.status_code == 200, again.text
        _assert_fulfilled_once(second.client, inbox, order, sub)
        # A later redelivery changes nothing either.
        assert _post_event(second.client, payload).json()["duplicate"] is True
        time.sleep(QUIET_SECONDS)
        assert len(_completed_posts(inbox, order["id"])) == 1
        assert len(_entitlements(second.client, sub)) == 1
    finally:
        for process in processes:
            process.close()  # SIGTERM, then SIGKILL after 10 s
