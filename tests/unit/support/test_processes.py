"""The test suite's port allocator: ports no outgoing connection and no other worker can take."""

from __future__ import annotations

import socket

import pytest

from tests.support import processes
from tests.support.processes import _PortAllocator, _worker_slice


def test_ports_lie_below_the_kernels_ephemeral_range_and_come_once() -> None:
    allocator = _PortAllocator(range(processes._LOWEST_TEST_PORT, processes._ephemeral_low()))
    ports = [allocator.take() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(port < processes._ephemeral_low() for port in ports)


def test_a_pair_reserves_both_ports() -> None:
    allocator = _PortAllocator(range(20000, 21200))
    first = allocator.take(count=2, spacing=100)
    others = {allocator.take() for _ in range(1000)}
    assert first not in others and first + 100 not in others


def test_a_pair_never_reaches_into_another_slice() -> None:
    allocator = _PortAllocator(range(20000, 21000))
    for _ in range(400):
        port = allocator.take(count=2, spacing=100)
        assert port + 100 < 21000


def test_a_bound_port_is_skipped() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        held = int(holder.getsockname()[1])
        # The slice starts at the held port: the allocator must step past it.
        allocator = _PortAllocator(range(held, held + 1000))
        allocator._next = 0
        assert allocator.take() != held


@pytest.mark.parametrize(("worker", "workers"), [(0, 1), (0, 6), (5, 6)])
def test_workers_share_the_range_without_overlap(
    monkeypatch: pytest.MonkeyPatch, worker: int, workers: int
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{worker}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
    mine = _worker_slice()
    for other in range(workers):
        if other == worker:
            continue
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{other}")
        assert not set(mine) & set(_worker_slice())
