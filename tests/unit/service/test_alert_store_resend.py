"""A re-sent alert becomes the most recently heard in both of the store's indexes.

``AlertStore.put`` moves a re-sent alert (same fingerprint) to the end in place (issue 10:
no dropping and rebuilding its alertname group per webhook). Order matters: eviction and
pruning take the least recently heard first, and the runtime picks the first of equally
old alerts from ``named``; an alert re-sent under another alertname changes group.
"""

from __future__ import annotations

from autoscaler.core.alerts import AlertState, AlertStore


def _state(fp: str, name: str, at: float) -> AlertState:
    return AlertState(fp, name, {"alertname": name}, "firing", 0.0, at)


def test_a_resent_alert_is_the_most_recently_heard_in_both_indexes() -> None:
    store = AlertStore(capacity=10)
    for i, fp in enumerate(["a", "b", "c"]):
        store.put(_state(fp, "X", i))
    store.put(_state("a", "X", 5))
    assert [s.fingerprint for s in store.values()] == ["b", "c", "a"]
    assert [s.fingerprint for s in store.named("X")] == ["b", "c", "a"]
    assert store.get("a") == _state("a", "X", 5)
    assert len(store) == 3


def test_a_resent_alert_is_evicted_after_the_ones_not_heard_since() -> None:
    store = AlertStore(capacity=3)
    for i, fp in enumerate(["a", "b", "c"]):
        store.put(_state(fp, "X", i))
    store.put(_state("a", "X", 5))
    taken, evicted = store.put(_state("d", "X", 6))
    assert (taken, evicted) == (True, 1)
    assert [s.fingerprint for s in store.values()] == ["c", "a", "d"]
    assert [s.fingerprint for s in store.named("X")] == ["c", "a", "d"]


def test_an_alert_resent_under_another_alertname_changes_group() -> None:
    store = AlertStore(capacity=10)
    store.put(_state("a", "X", 1))
    store.put(_state("a", "Y", 2))
    assert list(store.named("X")) == []
    assert [s.fingerprint for s in store.named("Y")] == ["a"]
    assert store.book(["X"]).alerts == {}


def test_a_late_older_notification_neither_replaces_nor_moves_the_alert() -> None:
    store = AlertStore(capacity=10)
    store.put(_state("a", "X", 5))
    store.put(_state("b", "X", 6))
    assert store.put(_state("a", "X", 1)) == (True, 0)
    assert [s.fingerprint for s in store.values()] == ["a", "b"]
    assert store.get("a") == _state("a", "X", 5)
