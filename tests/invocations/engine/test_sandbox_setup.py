"""No silent downgrade: a node that cannot build its sandbox refuses to run functions and says why;
``LAMBDA_SANDBOX=off`` runs them unsandboxed and says so at every start (issue 11, item 9)."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from invocations.engine import RuntimeUnavailable
from invocations.engine.sandbox import host
from tests.invocations.engine.conftest import invoke, payload

HELLO = {"app.py": "def handler(event, context):\n    return 'ran'\n"}


def test_without_root_the_pool_refuses_and_says_why(make_pool, function, monkeypatch) -> None:
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    pool = make_pool()
    assert pool.unavailable is not None and "needs root" in pool.unavailable and "LAMBDA_SANDBOX=off" in pool.unavailable
    assert not any(info.available for info in pool.runtimes().values())
    assert {info.reason for info in pool.runtimes().values()} == {pool.unavailable}
    with pytest.raises(RuntimeUnavailable, match="needs root"):
        invoke(pool, function(HELLO))
    assert pool.stats()["sandbox"] == "unavailable"


@pytest.mark.parametrize(("options", "reason"), [
    ({"sandbox": "docker"}, "LAMBDA_SANDBOX must be one of bwrap, gvisor, off"),
    ({"egress": "not a host"}, "LAMBDA_EGRESS: 'not a host'"),
    ({"sandbox_uid": 0}, "unprivileged uid"),
])
def test_a_bad_setting_refuses_rather_than_downgrades(make_pool, function, options: dict, reason: str) -> None:
    pool = make_pool(**options)
    assert pool.unavailable is not None and reason in pool.unavailable
    with pytest.raises(RuntimeUnavailable):
        invoke(pool, function(HELLO))


def test_a_missing_tool_is_named_with_its_package(make_pool, monkeypatch) -> None:
    real = host.shutil.which
    monkeypatch.setattr(host.shutil, "which", lambda name, path=None: None if name == "slirp4netns" else real(name, path=path))
    pool = make_pool()
    assert pool.unavailable is not None and "apt-get install slirp4netns" in pool.unavailable
    assert make_pool(egress="off").unavailable is None  # no egress, no user-mode stack needed


def test_sandbox_off_says_so_at_every_start(make_pool, function, caplog) -> None:
    for _ in range(2):
        with caplog.at_level(logging.WARNING, logger="invocations.engine.sandbox.host"):
            caplog.clear()
            pool = make_pool(sandbox="off", use_cgroups=False)
        assert "LAMBDA_SANDBOX=off" in caplog.text and "Never use it with code you do not trust" in caplog.text
        assert payload(invoke(pool, function(HELLO))) == "ran"


def test_what_dead_nodes_left_in_the_work_dir_is_removed_and_live_ones_kept(tmp_path: Path) -> None:
    from invocations.engine.sandbox.host import remove_leftovers

    dead = subprocess.Popen(["true"])
    dead.wait()
    for name in (f"{dead.pid}-abc-1.img", f"{dead.pid}-template-512.img", f"{dead.pid}-seccomp.bpf",
                 f"{os.getpid()}-abc-1.img", "not-a-node-file"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / f"{dead.pid}-gvisor" / "slot" / "rootfs").mkdir(parents=True)
    removed = remove_leftovers(str(tmp_path))
    assert sorted(removed) == sorted([f"{dead.pid}-abc-1.img", f"{dead.pid}-template-512.img",
                                      f"{dead.pid}-seccomp.bpf", f"{dead.pid}-gvisor"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{os.getpid()}-abc-1.img", "not-a-node-file"])
