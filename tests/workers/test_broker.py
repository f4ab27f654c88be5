import threading

from steppe.workers.broker import InProcessBroker, Message, telemetry_subject


def test_messages_reach_matching_subscriptions_only() -> None:
    broker = InProcessBroker()
    everything: list[str] = []
    seven: list[str] = []
    broker.subscribe("telemetry.*", lambda m: everything.append(m.subject))
    broker.subscribe(telemetry_subject(7), lambda m: seven.append(m.subject))
    broker.subscribe("alerts.*", lambda m: everything.append("wrong:" + m.subject))
    for org in (7, 8, 7):
        broker.publish(telemetry_subject(org), b"{}")
    broker.publish("telemetry.7.extra", b"{}")  # * is one token, not a prefix
    broker.drain()
    assert everything == ["telemetry.7", "telemetry.8", "telemetry.7"]
    assert seven == ["telemetry.7", "telemetry.7"]
    broker.close()


def test_a_slow_consumer_loses_deliveries_counted_not_silently() -> None:
    broker = InProcessBroker(capacity=3)
    gate = threading.Event()
    got: list[bytes] = []

    def slow(message: Message) -> None:
        gate.wait()
        got.append(message.data)

    sub = broker.subscribe("telemetry.*", slow)
    for i in range(10):
        broker.publish("telemetry.1", str(i).encode())
    gate.set()
    broker.drain()
    assert sub.delivered == len(got)
    assert sub.delivered + sub.dropped == 10
    assert sub.dropped >= 6  # at most one in hand plus three queued
    broker.close()


def test_a_failing_handler_is_counted_and_the_consumer_goes_on() -> None:
    broker = InProcessBroker()
    got: list[bytes] = []

    def picky(message: Message) -> None:
        if message.data == b"bad":
            raise ValueError("cannot handle")
        got.append(message.data)

    sub = broker.subscribe("telemetry.*", picky)
    for data in (b"a", b"bad", b"b"):
        broker.publish("telemetry.1", data)
    broker.drain()
    assert got == [b"a", b"b"]
    assert (sub.delivered, sub.failed) == (2, 1)
    broker.close()


def test_wants_says_whether_anyone_listens() -> None:
    broker = InProcessBroker()
    assert not broker.wants("telemetry.1")
    sub = broker.subscribe("telemetry.*", lambda m: None)
    assert broker.wants("telemetry.1") and not broker.wants("alerts.1")
    broker.unsubscribe(sub)
    assert not broker.wants("telemetry.1")
