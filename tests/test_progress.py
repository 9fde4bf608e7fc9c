"""Progress lines from inside the stages: silent for short work, then a bar with the rate and the time
left at most every 2 seconds, a line at the end; a new meter when a loop starts over."""
import pipelines.context as context
from crm_migrate import progress
from pipelines.context import RunContext


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make_ctx(lines):
    ctx = RunContext.__new__(RunContext)
    ctx.progress = lambda stage, message: lines.append((stage, message))
    return ctx


def test_a_meter_is_silent_for_short_work_and_shows_rate_and_time_left_for_long_work(monkeypatch):
    clock, lines = Clock(), []
    monkeypatch.setattr(context.time, "perf_counter", clock)
    ctx = make_ctx(lines)
    with progress.reporting(ctx.sink("load")):
        clock.now += 1
        progress.report("quick", 10, 10)  # done within the quiet period: nothing
        for done in range(1, 11):
            clock.now += 1
            progress.report("crm_account rows written", done * 1000, 10_000)
        clock.now += 4
        progress.report("records read", 5)  # no total: a count so far, timed from the last report
    assert lines[0] == ("load", "crm_account rows written [######..............] 3,000/10,000 rows, 1,000 rows/s, about 7 s left")
    assert lines[1][1].startswith("crm_account rows written [##########..........] 5,000/10,000")
    assert lines[-2] == ("load", "crm_account rows written [####################] 10,000/10,000 rows, 1,000 rows/s in 10.0 s")
    assert lines[-1] == ("load", "records read: 5 rows so far (4 s)")
    assert not any("quick" in m for _, m in lines)
    assert len(lines) == 6  # 3,000 5,000 7,000 9,000 (every 2 s), the end, the count


def test_a_loop_that_starts_over_gets_a_new_meter_and_no_sink_means_no_output(monkeypatch):
    clock, lines = Clock(), []
    monkeypatch.setattr(context.time, "perf_counter", clock)
    ctx = make_ctx(lines)
    progress.report("nobody listens", 1, 2)
    with progress.reporting(ctx.sink("resolve")):
        for block in range(2):
            for done in (1, 2, 3, 4):
                clock.now += 2
                progress.report("pairs", done * 100, 400, "pairs")
    assert [m for _, m in lines] == [
        "pairs [##########..........] 200/400 pairs, 50 pairs/s, about 4 s left",
        "pairs [###############.....] 300/400 pairs, 50 pairs/s, about 2 s left",
        "pairs [####################] 400/400 pairs, 50 pairs/s in 8.0 s",
        "pairs [##########..........] 200/400 pairs, 50 pairs/s, about 4 s left",  # the second block: timed from its own start
        "pairs [###############.....] 300/400 pairs, 50 pairs/s, about 2 s left",
        "pairs [####################] 400/400 pairs, 50 pairs/s in 8.0 s"]
