"""How many write transactions a sign-in step takes (the database's writer lock is shared).

On SQLite every write transaction is a turn on the one writer lock, and waiters sleep in
coarse steps, so the count per request decides the code step's throughput under load
(docs/benchmarks.md). Counted here: outermost ``atomic`` blocks plus writes in autocommit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from tests.conftest import PASSWORD, SEED20, FrozenClock, enable_two_factor
from twostep.accounts.models import User

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class TransactionCounter:
    def __init__(self) -> None:
        self.atomic_blocks = 0
        self.autocommit_writes: list[str] = []

    @property
    def total(self) -> int:
        return self.atomic_blocks + len(self.autocommit_writes)


@pytest.fixture
def count_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[TransactionCounter]:
    counter = TransactionCounter()
    real_enter = transaction.Atomic.__enter__

    def enter(self: transaction.Atomic) -> None:
        if not transaction.get_connection(self.using).in_atomic_block:
            counter.atomic_blocks += 1
        real_enter(self)

    def watch(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(WRITES) and not connection.in_atomic_block:
            counter.autocommit_writes.append(sql[:60])
        return execute(sql, params, many, context)

    monkeypatch.setattr(transaction.Atomic, "__enter__", enter)
    with connection.execute_wrapper(watch):
        yield counter


@pytest.mark.django_db(transaction=True)
def test_password_step_and_code_step_are_one_write_transaction_each(
    make_user: Callable[..., User], frozen_clock: FrozenClock, count_transactions: Any
) -> None:
    alice = make_user("alice@example.com")
    enable_two_factor(alice)
    client = Client()
    client.get("/login/")
    counter: TransactionCounter = count_transactions
    counter.atomic_blocks, counter.autocommit_writes = 0, []
    response = client.post("/login/", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/login/code/"
    # The pending login (session row, event) in one; the session is not written again.
    assert counter.total == 1, (counter.atomic_blocks, counter.autocommit_writes)

    client.get("/login/code/")
    counter.atomic_blocks, counter.autocommit_writes = 0, []
    response = client.post("/login/code/", {"code": frozen_clock.code(SEED20)})
    assert response.status_code == 302 and response.url == "/"
    # Check and record the code, sign in (new session key, last_login, events) in one, and
    # the session is not written again. (It was six before the sign-in moved inside.)
    assert counter.total == 1, (counter.atomic_blocks, counter.autocommit_writes)

    # Any other request still saves the session (the idle timeout counts from it).
    counter.atomic_blocks, counter.autocommit_writes = 0, []
    client.get("/")
    assert counter.total == 1


@pytest.mark.django_db(transaction=True)
def test_the_session_store_skips_only_a_repeat_of_its_own_last_write(
    count_transactions: Any,
) -> None:
    from django.contrib.sessions.models import Session

    from twostep.accounts.session_backends.db import SessionStore

    counter: TransactionCounter = count_transactions
    store = SessionStore()
    store["a"] = 1
    store.save()  # creates the row
    key = store.session_key
    assert key is not None
    counter.atomic_blocks, counter.autocommit_writes = 0, []
    store.save()  # the same key and data: nothing to write
    assert counter.total == 0
    store["a"] = 2
    store.save()  # changed: written
    assert counter.total == 1
    assert SessionStore(key).load() == {"a": 2}
    store.cycle_key()  # a new key: a new row, the old one deleted
    store.save()
    assert not Session.objects.filter(session_key=key).exists()
    assert SessionStore(store.session_key).load() == {"a": 2}
