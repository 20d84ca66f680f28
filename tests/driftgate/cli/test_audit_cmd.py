"""``driftgate audit``: the trail as a table or JSON, and its exit code when a
release is not explained (the CLI's entry point over a root written by the
real modules)."""

import json

from driftgate.cli.main import main
from serving import audit as release_audit
from serving import release


def _root(tmp_path, record: bool):
    serving = tmp_path / "serving" / "EWR"
    state = release.ReleaseState(model_name="flights_late", base_path=str(serving / "flights_late"), stable=1)
    release.record_event(state, "stable", 1, reason="first version in the region")
    state.revision = 1
    release.save(str(serving), state)
    (serving / release.STATE_FILE).write_text(json.dumps(state.__dict__))
    if record:
        release_audit.audit_event(str(serving), state, state.history[-1])
    return tmp_path


def _audit(capsys, root, *extra):
    code = main(["audit", "--region", "EWR", "--root", str(root), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_trail_that_explains_the_state_prints_its_table_and_exits_0(tmp_path, capsys):
    root = _root(tmp_path, record=True)
    code, output = _audit(capsys, root)
    assert code == 0, output
    assert "release" in output and "stable" in output and "first version in the region" in output
    assert "check: the trail explains the release state (stable v1, canary none)" in output
    code, output = _audit(capsys, root, "-o", "json")
    doc = json.loads(output)
    assert doc["ok"] is True and doc["records"][0]["kind"] == "release" and doc["records"][0]["version"] == 1


def test_an_unexplained_release_exits_1_and_repair_writes_it(tmp_path, capsys):
    root = _root(tmp_path, record=False)
    code, output = _audit(capsys, root)
    assert code == 1
    assert "stable v1 at" in output and "has no audit record" in output and "--repair" in output
    code, output = _audit(capsys, root, "--repair")
    assert code == 0, output
    assert "repaired: stable v1" in output
    code, output = _audit(capsys, root, "--since", "2999-01-01")
    assert code == 0 and "stable" not in output.split("check:")[0]
