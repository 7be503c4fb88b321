"""Every ``workbench.*`` MLflow tag name, defined once. Writers and readers import these constants, so a
renamed tag cannot silently split into two spellings (the card once read ``workbench.git_dirty`` while the
launcher wrote ``workbench.git.dirty``)."""

# what launched the run (lifecycle.tracked_run)
KIND = "workbench.kind"  # notebook | sweep | eval | finetune
USER = "workbench.user"
HOST = "workbench.host"
LAUNCHED_AT = "workbench.launched_at"
COMMAND = "workbench.command"
VERSION = "workbench.version"
PYTHON = "workbench.python"
PAPERMILL_VERSION = "workbench.papermill_version"
MLFLOW_VERSION = "workbench.mlflow_version"
GIT_COMMIT = "mlflow.source.git.commit"  # MLflow's own tag
GIT_DIRTY = "workbench.git.dirty"
ERROR = "error"  # the failure, scrubbed of secrets
# the launcher process, for stale-run recovery
LAUNCHER_PID = "workbench.launcher.pid"
LAUNCHER_HOST = "workbench.launcher.host"
LAUNCHER_START = "workbench.launcher.start"
KILLED_REASON = "workbench.killed_reason"
ATTEMPT = "workbench.attempt"
# notebooks and sweeps
NOTEBOOK = "workbench.notebook"
NOTEBOOK_HASH = "workbench.notebook_hash"
SWEEP_KEY = "workbench.sweep.key"
SWEEP_GRID = "workbench.sweep.grid"
SWEEP_CELL = "workbench.sweep.cell"
# evaluations
EVAL_STOPPED = "workbench.eval.stopped"
EVAL_CHECKPOINT = "workbench.eval.checkpoint"
LOAD_START = "workbench.load.start"  # + .load1 / .cpus / .busy: the machine's load when the evaluation started
LOAD_END = "workbench.load.end"
DATASET_DIGEST = "workbench.dataset_digest"  # on a registered evaluation dataset
DATASET_SOURCE = "workbench.dataset_source"  # on a registered evaluation dataset: the file it holds
CANDIDATE = "workbench.candidate"  # on a candidate's run, LoggedModel and row traces
CONFIG_HASH = "workbench.config_hash"  # a candidate configuration's hash, on its LoggedModel
GATE = "workbench.gate"  # a run's gate verdict: pass | fail | inconclusive (evaluate/verdict.py); gates.json has each
RECOMMENDED = "workbench.recommended"  # the candidate a comparison recommends (written by the demo's narration)
RECOMMENDATION_SUPPORTED = "workbench.recommendation_supported"  # "true" when a supported difference backs it
PROMPT_PREFIX = "workbench.prompt."  # + prompt name → registry version used by the run
# fine-tuning
FT_MODEL = "workbench.ft.model"  # the model a fine-tuning run produced (local:ft-... or ft:...)
FT_STATUS = "workbench.ft.status"
FT_REUSED = "workbench.ft.reused"
FT_JOB_ID = "workbench.ft.job_id"
# governance
SECRET_SCAN = "workbench.secret_scan"
# served apps: trace tags and metadata (written by serve/app.py, read by monitor/collect.py)
CONFIG_RUN_ID = "workbench.config_run_id"
TRACE_APP = "workbench.app"
TRACE_STREAM = "workbench.stream"
TRACE_MODEL = "workbench.model"
TRACE_PREFIX = "workbench."  # + a ChatRecord field: ttft_s, prompt_tokens, completion_tokens, cost_usd, error
TRACE_LATENCY = "workbench.latency_s"
TRACE_TTFT = "workbench.ttft_s"
TRACE_PROMPT_TOKENS = "workbench.prompt_tokens"
TRACE_COMPLETION_TOKENS = "workbench.completion_tokens"
TRACE_COST = "workbench.cost_usd"
TRACE_ERROR = "workbench.error"
TRACE_GUARD = "workbench.guard"  # the output guard blocked or redacted this answer: "block: canary,system_prompt"
# the lifecycle loop (served traces → dataset → evaluation → promotion): lineage on each step's run
LINEAGE_APP = "workbench.lineage.app"  # the served app's trace experiment the rows came from
LINEAGE_DATASET = "workbench.lineage.dataset"  # mlflow:NAME, the evaluation dataset made or used
LINEAGE_DATASET_ID = "workbench.lineage.dataset_id"
LINEAGE_TRACES = "workbench.lineage.source_traces"  # the served traces turned into rows (comma-separated)
LINEAGE_MODEL_ID = "workbench.lineage.model_id"  # the LoggedModel evaluated or promoted
LINEAGE_SERVED_MODEL_ID = "workbench.lineage.served_model_id"  # the LoggedModel the alias pointed at before
LINEAGE_EVIDENCE = "workbench.lineage.evidence_run"  # the run whose comparison justified a promotion
CHALLENGE_PASSED = "workbench.challenge.passed"  # on a challenge run: did the challenger pass every gate
PROMOTED = "workbench.promoted"  # on a LoggedModel: "<registered model>@<alias> v<version>"
# MLflow's own
PARENT_RUN_ID = "mlflow.parentRunId"
DESCRIPTION = "mlflow.note.content"  # the run page's Description (the governance card's summary)
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
