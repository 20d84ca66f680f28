"""The schema review hooks (``.pre-commit-hooks.yaml``) run by ``pre-commit``
itself on a scratch config repository, as a team's repository runs them on
every commit: a good commit passes, a broken schema edit and an edited
released version are refused with the file named.

Not proven here: pre-commit's own install in a team's CI image, or a hook
repository fetched over the network (the hooks repository is a local clone).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGION = "EWR"


def _git(cwd, *args):
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def config_repo(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks)
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "hooks"]):
        assert _git(hooks, *args).returncode == 0
    sha = _git(hooks, "rev-parse", "HEAD").stdout.strip()

    repo = tmp_path / "config"
    (repo / "pipelines" / "regions").mkdir(parents=True)
    for name in ("defaults.yaml", f"{REGION}.yaml"):
        shutil.copy(ROOT / "pipelines" / "regions" / name, repo / "pipelines" / "regions")
    shutil.copytree(ROOT / "schemas" / REGION, repo / "schemas" / REGION)
    table = json.loads((ROOT / "schemas" / "released.json").read_text())
    mine = {k: v for k, v in table.items() if k.startswith(f"{REGION}/")}
    (repo / "schemas" / "released.json").write_text(json.dumps(mine, indent=1) + "\n")
    ids = ["driftgate-config-validate", "driftgate-schema-validate", "driftgate-schema-released"]
    (repo / ".pre-commit-config.yaml").write_text(
        json.dumps({"repos": [{"repo": str(hooks), "rev": sha, "hooks": [{"id": i} for i in ids]}]})
    )
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "cache"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # driftgate, pre-commit
    assert _git(repo, "init", "-q").returncode == 0
    install = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    return repo, env


def _commit(repo, env, message):
    _git(repo, "add", "-A")
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_the_hooks_pass_a_good_commit_and_refuse_a_broken_schema_naming_the_file(config_repo):
    repo, env = config_repo
    code, out = _commit(repo, env, "a region and its released schema")
    assert code == 0, out
    assert "driftgate schema check-files" in out and "Passed" in out

    v2 = repo / "schemas" / REGION / "v2" / "schema.pbtxt"
    v2.parent.mkdir(parents=True, exist_ok=True)
    v1_text = (repo / "schemas" / REGION / "v1" / "schema.pbtxt").read_text()
    v2.write_text(v1_text.replace("type: INT", "type: INTEGER", 1))  # a typo an engineer makes
    code, out = _commit(repo, env, "a broken v2")
    assert code != 0
    assert "schemas/EWR/v2/schema.pbtxt" in out and "feature types are INT, FLOAT, BYTES, STRUCT" in out
    assert _git(repo, "log", "--oneline").stdout.count("\n") == 1  # the broken commit was not made


def test_an_edited_released_version_is_refused_and_a_new_version_is_the_way(config_repo):
    repo, env = config_repo
    assert _commit(repo, env, "start")[0] == 0
    v1 = repo / "schemas" / REGION / "v1" / "schema.pbtxt"
    edited = v1.read_text() + "\n# an edit in place\n"
    v1.write_text(edited)
    code, out = _commit(repo, env, "edit v1 in place")
    assert code != 0 and "schemas/EWR/v1/schema.pbtxt: version 1 of EWR was released" in out
    _git(repo, "checkout", "HEAD", "--", str(v1))
    v2 = repo / "schemas" / REGION / "v2" / "schema.pbtxt"
    v2.parent.mkdir(parents=True, exist_ok=True)
    v2.write_text(edited)  # the same change as a new version: fine (v1 stays pinned)
    code, out = _commit(repo, env, "v2")
    assert code == 0, out
