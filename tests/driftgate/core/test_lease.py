"""The per-region run lease (driftgate/core/lease.py) on a local root and a bucket."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from driftgate.core import lease, storage


def _write(path, holder: dict, expires: float, released=False):
    storage.write_atomic(str(path), json.dumps({"holder": holder, "expires": expires, "released": released}))


def _held_elsewhere(path, host: str, run: str, expires_in: float) -> None:
    """The lease as a process on another machine (or pod) left it."""
    holder = {"host": host, "pid": 1, "started": "2026-01-01T00:00:00Z", "run": run}
    _write(path, holder, expires=time.time() + expires_in)


def test_second_run_refused_with_one_line_naming_the_holder(tmp_path):
    path = str(tmp_path / "EWR" / "run.lease")
    with lease.held(path, "run-a"):
        with pytest.raises(lease.LeaseHeld) as err:
            with lease.held(path, "run-b"):
                pytest.fail("two runs held the region's lease at once")
    msg = str(err.value)
    assert "\n" not in msg
    assert "run run-a" in msg and f"pid {os.getpid()}" in msg and socket.gethostname() in msg
    assert "--wait" in msg


def test_released_lease_is_free_and_says_so(tmp_path):
    path = str(tmp_path / "run.lease")
    with lease.held(path, "run-a"):
        pass
    doc = json.loads(storage.read_text(path))
    assert doc["released"] is True and doc["holder"]["run"] == "run-a"
    with lease.held(path, "run-b") as second:
        assert second.me.run == "run-b"


def test_released_also_when_the_run_raises(tmp_path):
    path = str(tmp_path / "run.lease")
    with pytest.raises(ValueError):
        with lease.held(path, "run-a"):
            raise ValueError("training failed")
    assert json.loads(storage.read_text(path))["released"] is True


def test_wait_takes_the_lease_once_the_holder_is_done(tmp_path):
    path = str(tmp_path / "run.lease")
    first = lease.Lease(path, "run-a")
    first.acquire()
    threading.Timer(0.5, first.release).start()
    lines = []
    t0 = time.monotonic()
    with lease.held(path, "run-b", wait_s=30, progress=lines.append):
        waited = time.monotonic() - t0
    assert 0.4 < waited < 10
    assert lines and "waiting up to 30s for run run-a" in lines[0]


def test_wait_gives_up_after_its_seconds(tmp_path):
    path = str(tmp_path / "run.lease")
    lease.Lease(path, "run-a").acquire()
    t0 = time.monotonic()
    with pytest.raises(lease.LeaseHeld, match="waited 1s"):
        with lease.held(path, "run-b", wait_s=1):
            pass
    assert time.monotonic() - t0 >= 1


def test_stale_lease_of_another_host_taken_over_after_expiry(tmp_path):
    path = tmp_path / "run.lease"
    _held_elsewhere(path, "other-node", "old", expires_in=60)
    with pytest.raises(lease.LeaseHeld, match="host other-node"):
        lease.Lease(str(path), "new").acquire()
    _held_elsewhere(path, "other-node", "old", expires_in=-1)  # it stopped renewing
    with lease.held(str(path), "new"):
        assert json.loads(path.read_text())["holder"]["run"] == "new"


def test_holder_killed_by_sigkill_frees_the_region_at_once(tmp_path):
    path = str(tmp_path / "run.lease")
    code = textwrap.dedent(
        f"""
        import time
        from driftgate.core import lease
        lease.Lease({path!r}, "killed").acquire()
        print("held", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(lease.LeaseHeld, match="run killed"):
            lease.Lease(path, "next").acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    with lease.held(path, "next"):  # its expiry is minutes away, but its pid is gone
        pass


def test_same_run_may_take_its_own_lease_again(tmp_path):
    """A second task of one run (Kubeflow runs a pipeline as several tasks)."""
    path = str(tmp_path / "run.lease")
    lease.Lease(path, "run-a").acquire()
    assert lease.Lease(path, "run-a").try_acquire() is None


def test_renewal_moves_the_expiry_and_notices_a_takeover(tmp_path):
    path = str(tmp_path / "run.lease")
    mine = lease.Lease(path, "run-a", ttl=30)
    mine.acquire()
    before = json.loads(storage.read_text(path))["expires"]
    time.sleep(0.05)
    assert mine.renew() is True
    assert json.loads(storage.read_text(path))["expires"] > before
    _held_elsewhere(path, "other-node", "b", expires_in=60)
    assert mine.renew() is False and "run b" in mine.lost
    assert mine.release() is False  # never frees a lease it no longer holds
    assert json.loads(storage.read_text(path))["holder"]["run"] == "b"


def test_racing_processes_exactly_one_wins(tmp_path):
    path = str(tmp_path / "run.lease")
    code = textwrap.dedent(
        f"""
        import sys, time
        from driftgate.core import lease
        start = float(sys.argv[1])
        time.sleep(max(0, start - time.time()))
        holder = lease.Lease({path!r}, sys.argv[2]).try_acquire()
        print("won" if holder is None else "lost", flush=True)
        time.sleep(3)  # stay alive: a gone pid would free the lease
        """
    )
    start = time.time() + 3
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(start), f"r{i}"], stdout=subprocess.PIPE, text=True)
        for i in range(4)
    ]
    outcomes = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]


def test_bucket_lease_taken_with_generation_precondition(gcs, upload_preconditions):
    """On gs:// the lease is an object written with ifGenerationMatch (0 when
    absent), and given back with the generation read (fake-gcs-server on
    loopback; the refused loser is the next test)."""
    path, seen = f"{gcs}/EWR/run.lease", upload_preconditions
    with lease.held(path, "run-a"):
        assert seen == [0]
        doc = json.loads(storage.read_text(path))
        assert doc["holder"]["run"] == "run-a" and not doc["released"]
        with pytest.raises(lease.LeaseHeld, match="run run-a"):
            lease.Lease(path, "run-b").acquire()
        generation = storage.read_versioned(path)[1]  # what the server reports for the held lease
    assert seen == [0, generation]  # the release carried the generation it read
    assert json.loads(storage.read_text(path))["released"] is True


def test_two_runs_reading_a_free_bucket_lease_together_one_gets_it(gcs, monkeypatch):
    """Both read the absent lease (generation 0) before either writes: the
    server takes the first ``ifGenerationMatch=0`` write and refuses the
    second (412); the loser re-reads and finds the winner holding it."""
    path, refused = f"{gcs}/JFK/run.lease", []
    barrier, local = threading.Barrier(2, timeout=30), threading.local()
    read, write = storage.read_versioned, storage.write_if_unchanged

    def read_then_wait(p):
        got = read(p)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()
        return got

    def write_and_record(p, data, token):
        try:
            write(p, data, token)
        except storage.Conflict:
            refused.append(threading.current_thread().name)
            raise

    monkeypatch.setattr(storage, "read_versioned", read_then_wait)
    monkeypatch.setattr(storage, "write_if_unchanged", write_and_record)
    got = {}
    threads = [
        threading.Thread(target=lambda r=r: got.update({r: lease.Lease(path, r).try_acquire()}), name=r)
        for r in ("run-a", "run-b")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    (winner,) = [r for r, holder in got.items() if holder is None]
    (loser,) = [r for r, holder in got.items() if holder is not None]
    assert refused == [loser] and got[loser].run == winner
    assert json.loads(storage.read_text(path))["holder"]["run"] == winner


def test_run_id_from_where_kubeflow_writes_outputs():
    root = "gs://b/runs/EWR/pipeline"
    # open-source KFP: <root>/<pipeline name>/<run id>/<task>/<salt>/<output>
    assert lease.run_id_from_uri(f"{root}/driftgate-ewr/3f2a-77/example-gen/x1/examples", root) == "3f2a-77"
    # Vertex: <root>/<project number>/<job id>/<task>_<uuid>/<output>
    assert lease.run_id_from_uri(f"{root}/1234/driftgate-ewr-2026/example-gen_99/examples", root) == (
        "driftgate-ewr-2026"
    )
    assert lease.run_id_from_uri("gs://other/x/y/z/w", root) == ""
    assert lease.run_id_from_uri(f"{root}/only-one", root) == ""


def test_a_runs_last_task_releases_what_its_first_task_took_from_another_pod(tmp_path):
    """Kubeflow: the ingest task (one pod) takes it, the run recorder (another pod) gives it back."""
    path = tmp_path / "run.lease"
    _held_elsewhere(path, "pod-ingest", "kfp-run-7", expires_in=3600)
    with pytest.raises(lease.LeaseHeld, match="run kfp-run-7"):
        lease.Lease(str(path), "kfp-run-8").acquire()
    assert lease.Lease(str(path), "kfp-run-7").try_acquire() is None  # a later task of the same run
    assert lease.release_run(str(path), "kfp-run-7") is True
    assert json.loads(path.read_text())["released"] is True
    assert lease.release_run(str(path), "kfp-run-7") is True  # given back already: nothing to do
    assert lease.release_run(str(path), "kfp-run-8") is False  # never someone else's
    with lease.held(str(path), "kfp-run-8"):
        pass


def test_a_pipeline_lease_is_not_freed_by_its_task_process_ending(tmp_path):
    """On Kubeflow a run's tasks are pods, one after another: the lease its
    ingest task took must outlive that task's process (no pid check)."""
    path = str(tmp_path / "EWR" / "run.lease")
    code = textwrap.dedent(
        f"""
        from driftgate.core import lease
        lease.Lease({path!r}, "kfp-run-1", 900, lease.NO_PID).acquire()
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert lease.holds(path, "kfp-run-1")
    with pytest.raises(lease.LeaseHeld, match="kfp-run-1 .pipeline task on"):
        lease.Lease(path, "kfp-run-2").acquire()


def test_renew_run_extends_only_the_runs_own_lease_and_keeps_its_holder(tmp_path):
    path = str(tmp_path / "EWR" / "run.lease")
    assert lease.renew_run(path, "r1", 60) is False  # never takes a free lease
    assert not storage.exists(path)
    lease.Lease(path, "r1", 1.0, lease.NO_PID).acquire()
    holder = json.loads(storage.read_text(path))["holder"]
    assert lease.renew_run(path, "r1", 60) is True
    doc = json.loads(storage.read_text(path))
    assert doc["holder"] == holder and doc["expires"] > time.time() + 50
    assert lease.renew_run(path, "r2", 60) is False  # another run's lease is left alone
    assert json.loads(storage.read_text(path)) == doc
    lease.release_run(path, "r1")
    assert lease.renew_run(path, "r1", 60) is False  # given back: not revived


def test_the_ingest_task_keeps_the_runners_holder_for_the_same_run(tmp_path):
    """Under ``driftgate run`` the runner holds the lease; the ingest task of the
    same run must not replace the runner's pid (a killed run frees at once)."""
    path = str(tmp_path / "EWR" / "run.lease")
    with lease.held(path, "local-1"):
        lease.Lease(path, "local-1", 900, lease.NO_PID).acquire()
        assert json.loads(storage.read_text(path))["holder"]["pid"] == os.getpid()


def test_pipeline_ttl_comes_from_the_environment():
    assert lease.pipeline_ttl({}) == lease.PIPELINE_TTL_S <= 30 * 60
    assert lease.pipeline_ttl({lease.TTL_ENV: "2.5"}) == 2.5
    assert lease.pipeline_ttl({lease.TTL_ENV: "x"}) == lease.PIPELINE_TTL_S
