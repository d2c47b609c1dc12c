"""storage's use case against an in-memory event store: batches, set-aside messages, duplicates."""

from __future__ import annotations

import json
import uuid

from merchstore.common.consumed import ConsumedMessage
from merchstore.common.messages import DomainEvent
from merchstore.storage.domain import ConsumedEvent, SetAside
from merchstore.storage.use_cases import EventIngestor


class MemoryEventStore:
    """Events by id (a redelivered one kept once) and set-aside messages by origin."""

    def __init__(self) -> None:
        self.events: dict[uuid.UUID, ConsumedEvent] = {}
        self.set_aside_messages: dict[tuple[str, str, int, int], SetAside] = {}
        self.transactions = 0

    def store_batch(self, events: list[ConsumedEvent], set_aside: list[SetAside]) -> int:
        self.transactions += 1
        new = [event for event in events if event.event.event_id not in self.events]
        for event in new:
            self.events[event.event.event_id] = event
        for message in set_aside:
            self.set_aside(message)
        return len(new)

    def set_aside(self, message: SetAside) -> None:
        key = (message.topic, message.topic_id, message.partition, message.offset)
        self.set_aside_messages.setdefault(key, message)


def consumed(offset: int, value: bytes | None) -> ConsumedMessage:
    return ConsumedMessage("events", 0, offset, value, "topic-id-1")


def an_event(user: str = "7") -> bytes:
    return DomainEvent.new("join_guild", user).to_json()


def test_a_batch_is_stored_in_one_transaction_with_its_invalid_messages_set_aside() -> None:
    store = MemoryEventStore()
    ingestor = EventIngestor(store)
    batch = [consumed(0, an_event()), consumed(1, b"not json"), consumed(2, an_event("8"))]
    ingestor.store(batch)
    assert store.transactions == 1
    assert sorted(event.offset for event in store.events.values()) == [0, 2]
    [kept] = store.set_aside_messages.values()
    assert (kept.offset, kept.payload, kept.topic_id) == (1, b"not json", "topic-id-1")
    assert kept.error


def test_a_message_the_store_refused_is_set_aside_with_its_reason_and_origin() -> None:
    store = MemoryEventStore()
    EventIngestor(store).set_aside(consumed(5, b'{"event_id": 1}'), "DataError: NUL")
    [kept] = store.set_aside_messages.values()
    assert (kept.offset, kept.error, kept.payload) == (5, "DataError: NUL", b'{"event_id": 1}')


def test_a_redelivered_batch_stores_each_event_once() -> None:
    store = MemoryEventStore()
    ingestor = EventIngestor(store)
    batch = [consumed(offset, an_event(str(offset))) for offset in range(3)]
    ingestor.store(batch)
    ingestor.store(batch)  # the offsets' commit was lost: the batch comes again
    ingestor.store([consumed(9, batch[0].value)])  # or the same event at another offset
    assert len(store.events) == 3


def test_an_event_that_is_not_the_contract_is_set_aside_not_stored() -> None:
    store = MemoryEventStore()
    wrong = json.loads(an_event())
    wrong["event_type"] = "buy_castle"
    EventIngestor(store).store([consumed(0, json.dumps(wrong).encode()), consumed(1, None)])
    assert store.events == {}
    assert sorted(key[3] for key in store.set_aside_messages) == [0, 1]
