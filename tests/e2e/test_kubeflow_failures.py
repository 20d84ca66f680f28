"""A Kubeflow run that fails frees its region at once and stays red: JFK's
committed spec (``kubeflow/pipelines/JFK.yaml``) through the emulated
open-source backend (``tests/pipelines/kfp_backend.py``), tasks from the
pipeline image's install, one region root across four runs:

1. ``span="x"`` from the run form: ingest fails in one line after taking the
   region's lease; the exit task (``run_finalizer``, which needs no final
   status) releases it and fails, so the run is FAILED by both backend rules
   (before 2.4 the exit task decides, from 2.4 the DAG).
2. Another run holds the lease: ingest is refused in one line naming it; the
   exit task leaves that lease byte for byte and fails.
3. The trainer is SIGKILLed (``DRIFTGATE_FAULT=trainer.fit:kill``, the
   failpoint of the fault suite): the run is FAILED, the lease is released by
   the exit task right away (not after its TTL), the failure is recorded, the
   span is not marked done.
4. The next run starts at once, takes span 1 again, trains and pushes version 1:
   JFK's committed spec runs end to end.

Not proven here: Argo's own handling of an exit handler (the emulator runs it
after the sub-DAG whatever its state, as ``argocompiler/dag.go`` asks), a run
*terminated* from the UI (whether Argo runs the handler then was not verified:
the lease heartbeat and its TTL free the region then), and what
``kfp_cluster``/``kfp_backend`` say they do not prove.
"""

import json

import pytest

from components.monitor import finalizer
from driftgate.core import lease
from driftgate.core.layout import RegionLayout
from tests.e2e.kfp_cluster import INGEST, RUN, TRAINING, Cluster, failures, write_month
from tests.pipelines.kfp_backend import FAILED, OMITTED, SKIPPED, SUCCEEDED

pytestmark = pytest.mark.e2e

OTHER_RUN = "run-of-someone-else"


def _states(run) -> dict:
    """The run's state by each backend rule."""
    out = {}
    for backend in ("2.3", "2.5"):
        run.backend = backend
        out[backend] = run.state
    return out


@pytest.fixture(scope="module")
def jfk(tmp_path_factory, flights_frame, image_install):
    c = Cluster(tmp_path_factory.mktemp("kfp-jfk"), "JFK", image_install)
    write_month(flights_frame, "JFK", 1, c.data / "JFK" / "span-1" / "data.csv")
    lease_file = c.runs / "JFK" / "run.lease"
    out = {"cluster": c, "lease_file": lease_file, "runs": [], "states": [], "lease": []}

    def run(**kw):
        out["runs"].append(c.run(**kw))
        out["states"].append(_states(c.last))
        out["lease"].append(lease_file.read_bytes() if lease_file.exists() else None)
        out.setdefault("history", []).append(c.history())

    run(parameters={"span": "x"})
    lease.Lease(str(lease_file), OTHER_RUN, 900, lease.NO_PID).acquire()
    out["held_before"] = lease_file.read_bytes()
    run()
    lease.release_run(str(lease_file), OTHER_RUN)
    run(env={"DRIFTGATE_FAULT": "trainer.fit:kill"})
    run()
    return out


def _layout(jfk) -> RegionLayout:
    c = jfk["cluster"]
    return RegionLayout(str(c.runs), "JFK", c.config.serving.model_name)


def test_a_bad_span_parameter_fails_ingest_in_one_line_and_the_region_is_freed(jfk):
    first = jfk["runs"][0]
    assert first["example_gen"].state == FAILED
    # the task logs JSON (kubeflow.log_format): the error is one line, one object
    lines = first["example_gen"].log_tail.splitlines()
    messages = [json.loads(ln)["message"] if ln.startswith("{") else ln for ln in lines]
    line = [m for m in messages if 'span="x"' in m]
    assert line and 'expected "next"' in line[-1], first["example_gen"].log_tail
    assert first["span_gate"].state == OMITTED and first["tfx-dag"].state == FAILED
    assert first["run_finalizer"].state == FAILED and first["run_finalizer"].exit_code == 1
    assert jfk["states"][0] == {"2.3": FAILED, "2.5": FAILED}
    doc = json.loads(jfk["lease"][0])
    assert doc["holder"]["run"] == "run-1" and doc["released"] is True


def test_a_run_refused_by_the_lease_leaves_the_holders_lease_alone(jfk):
    second = jfk["runs"][1]
    assert second["example_gen"].state == FAILED
    assert f"region is being run by run {OTHER_RUN}" in second["example_gen"].log_tail
    assert second["run_finalizer"].state == FAILED
    assert jfk["lease"][1] == jfk["held_before"]  # byte for byte
    record = json.loads(open(finalizer.failure_file(_layout(jfk), "run-2")).read())
    assert record["state"] == finalizer.NOT_HELD and OTHER_RUN in record["holder"]
    assert jfk["states"][1] == {"2.3": FAILED, "2.5": FAILED}


def test_a_killed_trainer_fails_the_run_frees_the_region_at_once_and_leaves_the_span_undone(jfk):
    third = jfk["runs"][2]
    assert third["trainer"].state == FAILED and third["trainer"].exit_code != 0
    assert {n for n in TRAINING - {"serving_baseline", "trainer"} if third[n].state == OMITTED} == (
        TRAINING - {"serving_baseline", "trainer"}
    )
    assert third["run_finalizer"].state == FAILED and jfk["states"][2] == {"2.3": FAILED, "2.5": FAILED}
    doc = json.loads(jfk["lease"][2])
    assert doc["holder"]["run"] == "run-3" and doc["released"] is True  # freed by the exit task
    assert [(h["span"], h["completed"]) for h in jfk["history"][2]] == [(1, False)]
    record = json.loads(open(finalizer.failure_file(_layout(jfk), "run-3")).read())
    assert record["state"] == finalizer.FREED and "ended without a run record" in record["summary"]


def test_the_next_run_starts_at_once_takes_the_span_again_and_trains_from_the_committed_spec(jfk):
    c, fourth = jfk["cluster"], jfk["runs"][3]
    assert {n for n, r in fourth.items() if r.state == SUCCEEDED} == INGEST | TRAINING | RUN, failures(fourth)
    assert fourth["run_recorder"].state == SKIPPED
    assert fourth["example_gen"].metadata("examples")["span"] == 1
    assert fourth["span_gate"].metadata("report")["decision"] == "retrain"
    assert (c.serving / "flights_late" / "1" / "saved_model.pb").is_file()
    assert [(h["span"], h["completed"], h["run_id"]) for h in c.history()] == [(1, True, "run-4")]
    assert jfk["states"][3] == {"2.3": SUCCEEDED, "2.5": SUCCEEDED}
