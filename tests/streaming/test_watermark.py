"""The event-time watermark (``streaming.watermark``): the slowest active
partition holds it, idle ones do not, a quiet topic moves it with the wall
clock, it never moves back and survives a restart."""

from streaming.watermark import Watermark


def test_the_slowest_active_partition_holds_the_watermark():
    w = Watermark(lateness_s=10, idle_s=5)
    assert w.advance(0.0) is None
    w.observe(0, 100_000, now=0.0)
    w.observe(1, 50_000, now=0.0)
    assert w.advance(1.0) == 40_000  # partition 1, less 10 s lateness


def test_an_idle_partition_stops_holding_it_back():
    w = Watermark(lateness_s=10, idle_s=5)
    w.observe(0, 50_000, now=0.0)
    w.observe(1, 100_000, now=4.0)
    assert w.advance(4.0) == 40_000
    assert w.advance(6.0) == 90_000  # partition 0 silent for 6 s > 5 s


def test_a_quiet_topic_moves_it_with_the_wall_clock_and_it_never_moves_back():
    w = Watermark(lateness_s=10, idle_s=5)
    w.observe(0, 100_000, now=0.0)
    assert w.advance(4.0) == 90_000
    assert w.advance(20.0) == 110_000  # every partition idle: + 20 s since the last record
    w.observe(0, 30_000, now=21.0)  # an old record arrives
    assert w.advance(21.0) == 110_000


def test_the_state_survives_a_restart():
    w = Watermark(lateness_s=10, idle_s=5)
    w.observe(2, 70_000, now=0.0)
    w.advance(0.0)
    again = Watermark(10, 5, state=w.to_json())
    assert again.value == 60_000 and again.newest == {2: 70_000}
    assert again.advance(100.0) == 60_000
    assert again.advance(120.0) == 80_000  # still quiet: silence counted from the restart's first tick


def test_a_partition_not_read_yet_holds_the_watermark_until_it_is_idle():
    # the bug this prevents: partition 0 read up to February while partitions 1 and 2,
    # still unread, hold January's records: January must not seal yet
    w = Watermark(lateness_s=10, idle_s=5)
    w.assign([0, 1, 2], now=0.0)
    w.observe(0, 100_000, now=1.0)
    assert w.advance(1.0) is None
    w.observe(1, 60_000, now=2.0)
    w.observe(2, 80_000, now=2.0)
    assert w.advance(2.0) == 50_000
    quiet = Watermark(lateness_s=10, idle_s=5)
    quiet.assign([0, 1], now=0.0)
    quiet.observe(0, 100_000, now=1.0)
    assert quiet.advance(4.0) is None and quiet.advance(5.5) == 90_000  # partition 1 never speaks


def test_a_silent_partition_with_records_waiting_on_the_broker_is_behind_not_idle():
    """Seen on a three-broker Apache Kafka cluster: one partition's leader
    answers later than the other's; silent is not idle while the broker holds
    records for it past the consumed offset (``streaming.kafka.behind``)."""
    w = Watermark(lateness_s=0, idle_s=1)
    w.assign([0, 1], now=0.0)
    w.observe(0, 500_000, now=0.5)
    assert w.silent(2.0) == [0, 1]
    assert w.advance(2.0, behind=[1]) is None  # partition 1 not read yet, records waiting
    w.observe(1, 100_000, now=2.5)
    assert w.advance(5.0, behind=[1]) == 100_000  # still behind: it holds the watermark
    assert w.advance(5.0) == 502_500  # caught up, every partition idle: wall clock since the last record
