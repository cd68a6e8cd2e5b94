from journalist_app.keys.keyring import KeyringStore, UnlockedKeyring


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_unused_keyring_is_forgotten_after_the_idle_time() -> None:
    clock = Clock()
    store = KeyringStore(idle_seconds=60, clock=clock)
    session_id = store.open(UnlockedKeyring(username="alice"))
    clock.now += 59
    assert store.get(session_id) is not None
    clock.now += 59  # used a moment ago: still fresh
    assert store.get(session_id) is not None
    clock.now += 61
    assert store.get(session_id) is None
    assert len(store) == 0


def test_forgetting_one_session_keeps_the_others() -> None:
    store = KeyringStore(idle_seconds=60)
    first = store.open(UnlockedKeyring(username="alice"))
    second = store.open(UnlockedKeyring(username="alice"))
    assert first != second
    store.forget(first)
    assert store.get(first) is None and store.get(second) is not None
