"""``merchstore simulate``: players and shoppers at a steady rate, each acknowledgement kept.

Players send game actions to the receiver; shoppers register, log in, browse, order, cancel
and list their orders on store-api. Every request that may be retried carries an
``Idempotency-Key`` and is retried with it (and the same body) while the system answers 502,
503 or 504 or not at all, within a bound; some acknowledged orders are sent once more on
purpose, with the same key, as a client that lost the answer would. What was acknowledged goes
to the ledger (:mod:`merchstore.tools.ledger`) before the next request, so that
``merchstore verify`` can compare it with the system.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import jwt
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from merchstore.tools.ledger import LedgerWriter
from merchstore.tools.traffic import (
    PLAYER_ACTIONS,
    REPEAT_SHARE,
    RETRIED_STATUSES,
    SHOPPER_STEPS,
    Tally,
    format_ms,
    player_metadata,
    retry_pause_s,
    weighted,
)

PRODUCT_IDS = (1, 2, 3)
"""The pre-loaded products."""


@dataclass(frozen=True)
class SimulationPlan:
    """How much traffic, for how long, against what."""

    store_url: str
    receiver_url: str
    rate: float = 20.0
    duration_s: float | None = 60.0
    players: int = 8
    shoppers: int = 4
    retry_for_s: float = 30.0
    seed: int | None = None


@dataclass
class Answer:
    """The last answer of a request retried until it was answered for good, or none."""

    status: int | None
    body: Any
    retries: int


@dataclass
class ShopperState:
    """One simulated shopper: who it is and what it holds."""

    number: int
    username: str
    password: str
    user_id: int | None = None
    token: str | None = None
    placed: list[int] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        """Its Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


class Simulation:
    """One run of simulated traffic; ``run`` returns when it ends or is stopped."""

    def __init__(
        self,
        plan: SimulationPlan,
        ledger: LedgerWriter,
        stop: threading.Event,
        report: Callable[[str], None] | None = None,
        report_every_s: float = 10.0,
    ) -> None:
        self.plan = plan
        self.ledger = ledger
        self.stop = stop
        self.tally = Tally()
        self.run_id = uuid.uuid4().hex[:10]
        self.started = time.monotonic()
        self._rng = random.Random(plan.seed)
        self._report = report
        self._report_every_s = report_every_s
        self._requests = 0
        self._busy = 0
        """Actions under way (taken a token, not ended yet)."""

    @property
    def elapsed_s(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    async def run(self) -> Tally:
        """Send traffic until the duration is over or ``stop`` is set; the tally."""
        limits = httpx.Limits(max_connections=self.plan.players + self.plan.shoppers + 4)
        timeout = httpx.Timeout(10.0)
        async with (
            httpx.AsyncClient(
                base_url=self.plan.store_url, limits=limits, timeout=timeout
            ) as self._store,
            httpx.AsyncClient(
                base_url=self.plan.receiver_url, limits=limits, timeout=timeout
            ) as self._receiver,
        ):
            tokens: asyncio.Queue[None] = asyncio.Queue(
                maxsize=self.plan.players + self.plan.shoppers
            )
            actors = [
                asyncio.create_task(
                    self._actor(tokens, partial(self._play, f"player-{self.run_id}-{number}"))
                )
                for number in range(self.plan.players)
            ] + [
                asyncio.create_task(
                    self._actor(tokens, partial(self._shop, self._new_shopper(number)))
                )
                for number in range(self.plan.shoppers)
            ]
            reporter = asyncio.create_task(self._report_periodically())
            interrupted = await self._pace(tokens)
            while not tokens.empty():
                tokens.get_nowait()
            if not interrupted:
                # The duration ran out: each action under way may finish (its retries are
                # bounded); a stop request meanwhile ends them at once.
                deadline = time.monotonic() + self.plan.retry_for_s + 15
                # Polled: the count and the (signal-set) threading.Event have no awaitable.
                while self._busy and time.monotonic() < deadline and not self.stop.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            # Cancelled mid-request: what was not acknowledged is not in the ledger.
            for actor in actors:
                actor.cancel()
            await asyncio.gather(*actors, return_exceptions=True)
            reporter.cancel()
        return self.tally

    async def _pace(self, tokens: asyncio.Queue[None]) -> bool:
        """Release one action per 1/rate seconds; True when stopped by ``stop``."""
        interval = 1.0 / self.plan.rate
        due = time.monotonic()
        end = None if self.plan.duration_s is None else due + self.plan.duration_s
        while True:
            if self.stop.is_set():
                return True
            now = time.monotonic()
            if end is not None and now >= end:
                return False
            if now >= due:
                try:
                    tokens.put_nowait(None)
                except asyncio.QueueFull:
                    self.tally.behind += 1
                due += interval
                if due < now - 1.0:
                    due = now  # do not burst to catch up after a stall
                continue
            await asyncio.sleep(min(due - now, 0.1))

    async def _report_periodically(self) -> None:
        if self._report is None:
            return
        while True:
            await asyncio.sleep(self._report_every_s)
            self._report(self.tally.progress_line(self.elapsed_s))

    def _new_shopper(self, number: int) -> ShopperState:
        return ShopperState(
            number,
            username=f"sim-{self.run_id}-{number}",
            password=f"pw-{uuid.uuid4().hex}",
        )

    def _request_id(self) -> str:
        self._requests += 1
        return f"sim-{self.run_id}-{self._requests}"

    async def _send(
        self,
        client: httpx.AsyncClient,
        kind: str,
        method: str,
        path: str,
        *,
        store: bool,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send until answered for good (not 502/503/504) or ``retry_for_s`` is over."""
        first = time.monotonic()
        retries = 0
        status: int | None = None
        body: Any = None
        while True:
            request_id = self._request_id()
            sent = time.monotonic()
            try:
                answer = await client.request(
                    method,
                    path,
                    json=json,
                    headers={**(headers or {}), "X-Request-ID": request_id},
                )
            except httpx.HTTPError:
                status, body = None, None
            else:
                status = answer.status_code
                try:
                    body = answer.json()
                except ValueError:
                    body = None
                self.tally.answered(kind, (time.monotonic() - sent) * 1000)
                if store:
                    # Whatever it said, store-api handled it: its operation log has this id.
                    self.ledger.add("request", request_id=request_id, status=status)
                if status not in RETRIED_STATUSES:
                    return Answer(status, body, retries)
            if time.monotonic() - first >= self.plan.retry_for_s:
                return Answer(status, body, retries)
            retries += 1
            await asyncio.sleep(retry_pause_s(retries, self._rng))

    def _end(self, kind: str, answer: Answer, refused_ok: bool = True) -> str:
        if answer.status is not None and 200 <= answer.status < 300:
            outcome = "acknowledged"
        elif answer.status is not None and 400 <= answer.status < 500 and refused_ok:
            outcome = "refused"
        else:
            outcome = "failed"
        self.tally.ended(kind, outcome, answer.retries)
        return outcome

    async def _actor(self, tokens: asyncio.Queue[None], act: Callable[[], Awaitable[None]]) -> None:
        """One simulated user: one action per token of the rate, counted while under way."""
        while True:
            await tokens.get()
            self._busy += 1
            try:
                await act()
            finally:
                self._busy -= 1

    async def _play(self, user_id: str) -> None:
        event_type = weighted([(action[0], action[3]) for action in PLAYER_ACTIONS], self._rng)
        _, method, path, _ = next(a for a in PLAYER_ACTIONS if a[0] == event_type)
        body = (
            {"user_id": user_id, "metadata": player_metadata(event_type, self._rng)}
            if method == "POST"
            else None
        )
        answer = await self._send(
            self._receiver,
            event_type,
            method,
            path,
            store=False,
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if self._end(event_type, answer) == "acknowledged":
            self.ledger.add(
                "event",
                event_id=answer.body["event_id"],
                event_type=event_type,
                user_id=user_id if body else None,
            )

    async def _shop(self, shopper: ShopperState) -> None:
        if shopper.token is None:
            await self._join(shopper)
            return
        step = weighted(SHOPPER_STEPS, self._rng)
        if step == "cancel" and not shopper.placed:
            step = "order"
        await getattr(self, f"_{step}")(shopper)

    async def _join(self, shopper: ShopperState) -> None:
        """Register (once acknowledged, never again) and log in."""
        if shopper.user_id is None:
            body = {
                "sid": f"S{self.run_id[:6]}{shopper.number:05d}"[:15],
                "username": shopper.username,
                "email": f"{shopper.username}@example.com",
                "password": shopper.password,
            }
            answer = await self._send(
                self._store, "register", "POST", "/users/register", store=True, json=body
            )
            # 409 after unanswered tries: the first one registered it.
            taken_by_us = answer.status == 409 and answer.retries > 0
            outcome = self._end("register", answer)
            if outcome != "acknowledged" and not taken_by_us:
                return
            if outcome == "acknowledged":
                shopper.user_id = int(answer.body["id"])
                self.ledger.add(
                    "shopper",
                    user_id=shopper.user_id,
                    username=shopper.username,
                    password=shopper.password,
                )
        answer = await self._send(
            self._store,
            "login",
            "POST",
            "/users/login",
            store=True,
            json={"username": shopper.username, "password": shopper.password},
        )
        if self._end("login", answer) != "acknowledged":
            return
        shopper.token = answer.body["access_token"]
        if shopper.user_id is None:
            claims = jwt.decode(shopper.token, options={"verify_signature": False})
            shopper.user_id = int(claims["sub"])
            self.ledger.add(
                "shopper",
                user_id=shopper.user_id,
                username=shopper.username,
                password=shopper.password,
            )

    async def _browse(self, shopper: ShopperState) -> None:
        path = self._rng.choice(["/products", *(f"/products/{i}" for i in PRODUCT_IDS)])
        answer = await self._send(self._store, "browse", "GET", path, store=True)
        self._end("browse", answer)

    async def _list_orders(self, shopper: ShopperState) -> None:
        answer = await self._send(
            self._store, "list_orders", "GET", "/orders", store=True, headers=shopper.auth
        )
        self._expired(shopper, answer)
        self._end("list_orders", answer)

    def _expired(self, shopper: ShopperState, answer: Answer) -> None:
        if answer.status == 401:
            shopper.token = None  # log in again at its next turn

    async def _order(self, shopper: ShopperState) -> None:
        assert shopper.user_id is not None
        body = {"product_id": self._rng.choice(PRODUCT_IDS), "quantity": self._rng.randint(1, 3)}
        key = uuid.uuid4().hex
        headers = {**shopper.auth, "Idempotency-Key": key}
        answer = await self._send(
            self._store, "order", "POST", "/orders", store=True, json=body, headers=headers
        )
        self._expired(shopper, answer)
        outcome = self._end("order", answer)
        if outcome == "failed":
            self.ledger.add(
                "attempt",
                user_id=shopper.user_id,
                idempotency_key=key,
                last_status=answer.status,  # None: no answer at all
                retries=answer.retries,
                **body,
            )
            return
        if outcome != "acknowledged":
            return
        order_id = int(answer.body["id"])
        self.ledger.add(
            "order", order_id=order_id, user_id=shopper.user_id, idempotency_key=key, **body
        )
        shopper.placed.append(order_id)
        if self._rng.random() < REPEAT_SHARE:
            again = await self._send(
                self._store,
                "order_repeat",
                "POST",
                "/orders",
                store=True,
                json=body,
                headers=headers,
            )
            repeated = self._end("order_repeat", again) == "acknowledged"
            if repeated and int(again.body["id"]) != order_id:
                self.tally.doubled_repeats += 1
                self.ledger.add(
                    "order",
                    order_id=int(again.body["id"]),
                    user_id=shopper.user_id,
                    idempotency_key=key,
                    repeat_of=order_id,
                    **body,
                )

    async def _cancel(self, shopper: ShopperState) -> None:
        order_id = shopper.placed[self._rng.randrange(len(shopper.placed))]
        answer = await self._send(
            self._store,
            "cancel",
            "DELETE",
            f"/orders/{order_id}",
            store=True,
            headers=shopper.auth,
        )
        self._expired(shopper, answer)
        # 409 after unanswered tries: the first one cancelled it.
        cancelled_by_us = answer.status == 409 and answer.retries > 0
        if self._end("cancel", answer) == "acknowledged" or cancelled_by_us:
            self.ledger.add("cancel", order_id=order_id)
            shopper.placed.remove(order_id)


def summary_table(tally: Tally, elapsed_s: float) -> Table:
    """The end-of-run table: each kind of request, how it ended, and its latencies."""
    table = Table(title=f"merchstore simulate: {elapsed_s:.1f} s", title_justify="left")
    for column in ("request", "sent", "acknowledged", "refused", "failed", "retries"):
        table.add_column(column, justify="left" if column == "request" else "right")
    table.add_column("p50", justify="right")
    table.add_column("p99", justify="right")
    rows = sorted(tally.kinds.items())
    for kind, counts in [*rows, ("all", tally.total())]:
        p50, p99 = counts.quantiles()
        table.add_row(
            kind,
            *(
                str(value)
                for value in (
                    counts.sent,
                    counts.acknowledged,
                    counts.refused,
                    counts.failed,
                    counts.retried,
                )
            ),
            format_ms(p50),
            format_ms(p99),
            end_section=kind == rows[-1][0] if rows else False,
        )
    return table


def run_simulation(
    plan: SimulationPlan,
    ledger_path: Path,
    stop: threading.Event,
    console: Console,
    baseline: dict[str, int] | None,
    topic_ids: dict[str, str] | None = None,
) -> Tally:
    """Run ``plan`` with a live progress line (a line every 10 s when not on a terminal)."""
    with LedgerWriter(ledger_path) as ledger:
        live = console.is_terminal
        simulation = Simulation(
            plan,
            ledger,
            stop,
            report=None if live else lambda line: console.print(line, soft_wrap=True),
        )
        ledger.add(
            "run",
            run_id=simulation.run_id,
            started_at=datetime.now(UTC).isoformat(),
            store_url=plan.store_url,
            receiver_url=plan.receiver_url,
            event_log_baseline=baseline,
            # Which incarnation of each topic verify's checks read: a broker that keeps nothing
            # (the embedded one) makes them anew at each start.
            topic_ids=topic_ids or {},
        )
        if live:
            with Live(console=console, refresh_per_second=4, transient=True) as display:

                async def refresh() -> Tally:
                    task = asyncio.create_task(simulation.run())
                    while not task.done():
                        display.update(Text(simulation.tally.progress_line(simulation.elapsed_s)))
                        await asyncio.sleep(0.25)
                    return await task

                tally = asyncio.run(refresh())
        else:
            tally = asyncio.run(simulation.run())
        elapsed = simulation.elapsed_s
        whole = tally.total()
        ledger.add(
            "end",
            elapsed_s=round(elapsed, 3),
            sent=whole.sent,
            acknowledged=whole.acknowledged,
            refused=whole.refused,
            failed=whole.failed,
            doubled_repeats=tally.doubled_repeats,
        )
    console.print(summary_table(tally, elapsed))
    if tally.behind:
        console.print(
            f"{tally.behind} ticks of the rate found every simulated user still waiting for an "
            "answer: the system was slower than the rate asked (more --players or --shoppers "
            "send more at once)."
        )
    return tally
