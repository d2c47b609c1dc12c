"""``merchstore verify``: everything the ledger says was acknowledged is stored, once.

:func:`compare` holds the rules (no I/O): it takes a :class:`~merchstore.tools.ledger.Ledger`
and an :class:`Observed` reading of the system and gives one :class:`Check` per promise.
:class:`SystemReader` reads the system: storage's feed, each shopper's orders and the products on
store-api, the event-logger's counts, and the ``event_log`` and ``log-channel`` topics.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.table import Table

from merchstore.common.kafka.clients import topic_ids
from merchstore.settings import Settings
from merchstore.tools.ledger import Ledger
from merchstore.tools.observe import (
    StorageFeed,
    TopicReader,
    event_log_tally,
    event_logger_counts,
)

ORDERS_PAGE = 200
"""Orders asked for per page of ``GET /orders`` (its largest page)."""
INITIAL_STOCK = 500
"""Each pre-loaded product's stock before any order."""


@dataclass
class Observed:
    """What the system holds, as far as the ledger's promises go."""

    stored_events: Counter[str] = field(default_factory=Counter)
    """Storage's events, by event_id."""
    order_events: Counter[tuple[str, int]] = field(default_factory=Counter)
    """Storage's order events, by (event type, order id)."""
    sold: Counter[int] = field(default_factory=Counter)
    """Units placed minus units cancelled, per product, from storage's order events."""
    stock: dict[int, int] = field(default_factory=dict)
    orders: dict[int, dict[int, str] | None] = field(default_factory=dict)
    """Each ledger shopper's orders in the store (id → status); None when it could not log in."""
    event_logger: Counter[str] = field(default_factory=Counter)
    event_log_topic: Counter[str] = field(default_factory=Counter)
    request_ids: set[str] = field(default_factory=set)
    topic_ids: dict[str, str] = field(default_factory=dict)
    """The broker's id of each topic read now ("event_log", "log_channel"), by its name."""
    topic_names: dict[str, str] = field(default_factory=dict)
    """The topics' names, by role: ``event_log`` and ``log_channel``."""


@dataclass(frozen=True)
class Check:
    """One promise: how many things it covers, how many are missing or doubled."""

    name: str
    expected: int | str
    found: int | str
    lost: int
    doubled: int
    note: str = ""
    skipped: str = ""
    """Why this check could not be made (what it reads is gone): it neither holds nor fails."""

    @property
    def holds(self) -> bool:
        """Nothing lost, nothing doubled (or nothing that could be checked)."""
        return bool(self.skipped) or (self.lost == 0 and self.doubled == 0)


def replaced_topics(ledger: Ledger, observed: Observed) -> list[str]:
    """The topics whose incarnation the ledger was written against is gone (by role).

    A broker that keeps nothing (the embedded one) makes its topics anew at each start: what
    the ledger's run wrote to them cannot be read back, so it is neither there nor lost.
    """
    written = ledger.runs[0].get("topic_ids") if ledger.runs else None
    if not isinstance(written, dict):
        return []  # a ledger that did not record them: checked as before
    replaced = []
    for role, name in sorted(observed.topic_names.items()):
        then = written.get(name)
        if isinstance(then, str) and then and observed.topic_ids.get(name) != then:
            replaced.append(role)
    return replaced


def _skipped(name: str, topic: str, note: str) -> Check:
    why = f"{topic} is not the topic this ledger's run wrote to (the broker was restarted)"
    return Check(name, "-", "-", 0, 0, note, skipped=why)


def _once(expected: list[Any], counts: Counter[Any]) -> tuple[int, int, int]:
    """How many of ``expected`` were found once, not at all, and more than once."""
    found = sum(1 for key in expected if counts[key] >= 1)
    lost = sum(1 for key in expected if counts[key] == 0)
    doubled = sum(1 for key in expected if counts[key] > 1)
    return found, lost, doubled


def compare(ledger: Ledger, observed: Observed) -> list[Check]:
    """Every promise the ledger lets us check, against what was observed."""
    checks = []
    found, lost, doubled = _once(list(ledger.events), observed.stored_events)
    checks.append(
        Check("game events stored once", len(ledger.events), found, lost, doubled, "storage")
    )

    lost_orders = doubled_orders = wrong_status = unknown_users = 0
    for user_id in ledger.shoppers:
        held = observed.orders.get(user_id)
        mine = {oid: o for oid, o in ledger.orders.items() if o["user_id"] == user_id}
        if held is None:
            unknown_users += 1
            lost_orders += len(mine)
            continue
        for order_id in mine:
            if order_id not in held:
                lost_orders += 1
            elif held[order_id] != ledger.status_of(order_id):
                wrong_status += 1
        # Orders the ledger does not know are allowed only for requests left unanswered.
        unknown = len(set(held) - set(mine))
        doubled_orders += max(0, unknown - ledger.unanswered_orders.get(user_id, 0))
    doubled_orders += sum(1 for order in ledger.orders.values() if "repeat_of" in order)
    notes = [f"{wrong_status} with another status"] if wrong_status else []
    if unknown_users:
        notes.append(f"{unknown_users} shopper(s) could not log in")
    checks.append(
        Check(
            "orders once, with their status",
            len(ledger.orders),
            len(ledger.orders) - lost_orders - wrong_status,
            lost_orders + wrong_status,
            doubled_orders,
            "; ".join(notes) or "store-api",
        )
    )

    announced = [("order_placed", oid) for oid in ledger.orders] + [
        ("order_cancelled", oid) for oid in ledger.cancelled
    ]
    found, lost, doubled = _once(announced, observed.order_events)
    checks.append(
        Check("order events stored once", len(announced), found, lost, doubled, "storage")
    )

    products = sorted(observed.stock)
    totals = {pid: observed.stock[pid] + observed.sold[pid] for pid in products}
    checks.append(
        Check(
            f"stock + sold = {INITIAL_STOCK} per product",
            ", ".join(str(INITIAL_STOCK) for _ in products),
            ", ".join(str(total) for total in totals.values()),
            sum(max(0, INITIAL_STOCK - total) for total in totals.values()),
            sum(max(0, total - INITIAL_STOCK) for total in totals.values()),
            "units; sold: order events",
        )
    )

    replaced = replaced_topics(ledger, observed)
    if "event_log" in replaced:
        checks.append(
            _skipped("event-logger counts = announcements", "event_log", "per code, on event_log")
        )
    else:
        checks.append(_event_logger_check(ledger, observed))
    if "log_channel" in replaced:
        checks.append(
            _skipped("store requests traced on log-channel", "log-channel", "X-Request-ID")
        )
        return checks
    traced = len(ledger.request_ids & observed.request_ids)
    checks.append(
        Check(
            "store requests traced on log-channel",
            len(ledger.request_ids),
            traced,
            len(ledger.request_ids) - traced,
            0,
            "X-Request-ID",
        )
    )
    return checks


def _event_logger_check(ledger: Ledger, observed: Observed) -> Check:
    baseline = Counter(ledger.runs[0].get("event_log_baseline") or {}) if ledger.runs else Counter()
    codes = sorted(set(observed.event_log_topic) | set(observed.event_logger) | set(baseline))
    wanted = {code: observed.event_log_topic[code] + baseline[code] for code in codes}
    return Check(
        "event-logger counts = announcements",
        sum(wanted.values()),
        sum(observed.event_logger[code] for code in codes),
        sum(max(0, wanted[c] - observed.event_logger[c]) for c in codes),
        sum(max(0, observed.event_logger[c] - wanted[c]) for c in codes),
        "per code, on event_log",
    )


@dataclass(frozen=True)
class SystemAddress:
    """Where the parts of a running system answer."""

    store_url: str
    storage_url: str
    event_logger_url: str


class SystemReader:
    """Reads what :class:`Observed` holds; the topics are read on, not again, at each call."""

    def __init__(self, settings: Settings, address: SystemAddress) -> None:
        self.address = address
        self._settings = settings
        self._topic_names = {
            "event_log": settings.topics.event_log,
            "log_channel": settings.topics.log_channel,
        }
        self._topic_ids: dict[str, str] | None = None
        self._event_log = TopicReader(settings, settings.topics.event_log)
        self._log_channel = TopicReader(settings, settings.topics.log_channel)
        self._event_log_topic: Counter[str] = Counter()
        self._feed = StorageFeed(address.storage_url)
        self._stored = Observed()  # what storage's feed gave so far, read on at each call
        self._request_ids: set[str] = set()
        self._tokens: dict[int, str] = {}

    def observe(self, ledger: Ledger) -> Observed:
        """One reading of the system."""
        stored = self._stored
        for event in self._feed.read_on():
            stored.stored_events[event["event_id"]] += 1
            if event["event_type"] in ("order_placed", "order_cancelled"):
                metadata = event["metadata"]
                order_id, product = int(metadata["order_id"]), int(metadata["product_id"])
                stored.order_events[(event["event_type"], order_id)] += 1
                sign = 1 if event["event_type"] == "order_placed" else -1
                stored.sold[product] += sign * int(metadata["quantity"])
        observed = Observed(
            stored_events=stored.stored_events,
            order_events=stored.order_events,
            sold=stored.sold,
        )
        with httpx.Client(base_url=self.address.store_url, timeout=30) as store:
            answer = store.get("/products")
            answer.raise_for_status()
            observed.stock = {int(p["id"]): int(p["stock"]) for p in answer.json()}
            for user_id, shopper in ledger.shoppers.items():
                observed.orders[user_id] = self._orders_of(store, user_id, shopper)
        observed.event_logger = event_logger_counts(self.address.event_logger_url)
        observed.event_log_topic = event_log_tally(self._event_log.drain(), self._event_log_topic)
        for body in self._log_channel.drain():
            if isinstance(body.get("request_id"), str):
                self._request_ids.add(body["request_id"])
        observed.request_ids = self._request_ids
        observed.topic_names = self._topic_names
        # A topic's incarnation does not change while verify waits: asked until the broker said.
        ids = self._topic_ids or topic_ids(self._settings, self._topic_names.values())
        if len(ids) == len(self._topic_names):
            self._topic_ids = ids
        observed.topic_ids = ids
        return observed

    def _orders_of(
        self, store: httpx.Client, user_id: int, shopper: dict[str, Any]
    ) -> dict[int, str] | None:
        """The shopper's orders, every page of them; None when it cannot log in."""
        for _ in range(2):
            token = self._tokens.get(user_id)
            if token is None:
                login = store.post(
                    "/users/login",
                    json={"username": shopper["username"], "password": shopper["password"]},
                )
                if login.status_code != 200:
                    return None
                token = self._tokens[user_id] = login.json()["access_token"]
            orders: dict[int, str] = {}
            path: str | None = f"/orders?limit={ORDERS_PAGE}"
            while path is not None:
                answer = store.get(path, headers={"Authorization": f"Bearer {token}"})
                if answer.status_code == 401:
                    break
                answer.raise_for_status()
                orders.update({int(order["id"]): order["status"] for order in answer.json()})
                path = answer.links.get("next", {}).get("url")
            else:
                return orders
            self._tokens.pop(user_id, None)  # expired: log in again
        return None

    def close(self) -> None:
        """Leave the broker."""
        self._event_log.close()
        self._log_channel.close()


def verify(
    ledger: Ledger,
    reader: SystemReader,
    settle_s: float,
    note: Callable[[str], None] = lambda line: None,
) -> list[Check]:
    """Compare until every check holds or ``settle_s`` passed; the last comparison.

    What was acknowledged last may still be on its way (a consumer catching up after a
    restart), so a check that does not hold yet is tried again.
    """
    deadline = time.monotonic() + settle_s
    while True:
        try:
            checks = compare(ledger, reader.observe(ledger))
        except httpx.HTTPError as error:
            if time.monotonic() > deadline:
                raise
            note(f"the system did not answer ({error}); trying again")
            time.sleep(2.0)
            continue
        if all(check.holds for check in checks) or time.monotonic() > deadline:
            return checks
        waiting = ", ".join(check.name for check in checks if not check.holds)
        note(f"not yet: {waiting}; looking again")
        time.sleep(2.0)


def checks_table(checks: list[Check]) -> Table:
    """One row per promise, with its verdict."""
    table = Table(title="merchstore verify", title_justify="left")
    for column in ("check", "expected", "found", "lost", "doubled", "verdict", "about"):
        table.add_column(column, justify="right" if column in ("lost", "doubled") else "left")
    for check in checks:
        if check.skipped:  # never "lost" or "doubled" for what could not be seen
            table.add_row(check.name, "-", "-", "-", "-", "[yellow]skipped[/yellow]", check.skipped)
            continue
        table.add_row(
            check.name,
            str(check.expected),
            str(check.found),
            str(check.lost),
            str(check.doubled),
            "[green]ok[/green]" if check.holds else "[bold red]FAIL[/bold red]",
            check.note,
        )
    return table
