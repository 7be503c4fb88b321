"""Stale runs: a launcher killed with SIGKILL (OOM killer, ``kill -9``, a closed laptop) cannot end its MLflow
run, which would show RUNNING forever. Every workbench launcher tags the runs it starts with who launched them
(:func:`launch_tags`: pid, host and the process start time, so a reused pid is not mistaken for the launcher).
The next launch on the same host first looks for RUNNING runs whose launcher is gone and terminates them
``KILLED`` with a ``workbench.killed_reason`` tag (:func:`mark_stale_runs`).

Runs launched on another host are left alone: whether their process lives cannot be seen from here.
"""

from __future__ import annotations

import logging
import os
import platform
import time

from . import tags as T
from .procs import pid_alive, process_start

PID_TAG, HOST_TAG, START_TAG, REASON_TAG = T.LAUNCHER_PID, T.LAUNCHER_HOST, T.LAUNCHER_START, T.KILLED_REASON

log = logging.getLogger(__name__)


def _kill(c, run_id: str, why: str) -> None:
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    c.set_tag(run_id, REASON_TAG, f"{why}; marked KILLED by pid {os.getpid()} on {platform.node()} at {when}")
    c.set_terminated(run_id, "KILLED")


def mark_stale_runs(client=None) -> list[str]:
    """Terminate as KILLED the RUNNING runs launched on this host by a process that is gone, and their RUNNING or
    SCHEDULED children (a killed sweep's cells); returns their ids."""
    from mlflow.entities import ViewType

    from . import tracking

    c = client or tracking.client()
    host = platform.node()
    exp_ids = [e.experiment_id for e in c.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)]
    if not exp_ids:
        return []
    stale = []
    for i in range(0, len(exp_ids), 100):  # search_runs takes at most 100 experiments per call
        runs = c.search_runs(
            exp_ids[i : i + 100], f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'", max_results=50000
        )
        for run in runs:
            tags = run.data.tags
            try:
                pid = int(tags.get(PID_TAG, ""))
            except ValueError:
                continue
            if pid_alive(pid, tags.get(START_TAG)):
                continue
            _kill(c, run.info.run_id, f"launcher pid {pid} on {host} ended without ending the run (killed?)")
            stale.append(run.info.run_id)
            # children it queued or started (a sweep's cells) went down with it, unless their own launcher lives
            for child in c.search_runs(
                [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'", max_results=50000
            ):
                ct = child.data.tags
                if (
                    child.info.run_id in stale
                    or child.info.status not in ("RUNNING", "SCHEDULED")
                    or (
                        ct.get(HOST_TAG) == host
                        and ct.get(PID_TAG, "").isdigit()
                        and pid_alive(int(ct[PID_TAG]), ct.get(START_TAG))
                    )
                ):
                    continue
                _kill(c, child.info.run_id, f"its parent run {run.info.run_id} was killed")
                stale.append(child.info.run_id)
    if stale:
        log.warning("marked %d stale run(s) KILLED (their launcher died): %s", len(stale), ", ".join(stale))
        finalize_pending_models(c, stale)
    return stale


def finalize_pending_models(c, run_ids: list[str]) -> list[str]:
    """End the LoggedModels that runs ``run_ids`` (killed) left PENDING: a workbench candidate configuration
    (tagged with its config hash: everything it holds was written when it was created) becomes READY, any other
    FAILED (its artifacts may be missing). Returns their ids."""
    from mlflow.entities import LoggedModelStatus

    ended = []
    for run_id in run_ids:
        try:
            exp_id = c.get_run(run_id).info.experiment_id
            models = c.search_logged_models([exp_id], filter_string=f"source_run_id = '{run_id}'")
        except Exception as e:  # noqa: BLE001 - an old store without LoggedModels
            log.warning("could not look up the models of run %s: %s", run_id, e)
            continue
        for m in models:
            if str(m.status) != "PENDING":
                continue
            ready = T.CONFIG_HASH in (m.tags or {})
            c.finalize_logged_model(m.model_id, LoggedModelStatus.READY if ready else LoggedModelStatus.FAILED)
            ended.append(m.model_id)
    if ended:
        log.warning("ended %d LoggedModel(s) left PENDING by killed runs: %s", len(ended), ", ".join(ended))
    return ended


def launch_tags(client=None) -> dict[str, str]:
    """Tags naming this process as a run's launcher — called where a run starts, so it first ends the stale runs
    of dead launchers on this host (a failure there is logged, never blocks the launch)."""
    try:
        mark_stale_runs(client)
    except Exception as e:  # noqa: BLE001 - recovery is best effort; the new run matters more
        log.warning("could not check for stale runs: %s: %s", type(e).__name__, e)
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: platform.node()}
    start = process_start(os.getpid())
    if start:
        tags[START_TAG] = start
    return tags
