"""The fine-tuning workflow in two calls (what notebooks and the demo use): prepare validated training data,
then fine-tune with the chosen backend and get back a model name any candidate can use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import WorkbenchError
from .prepare import examples_from_corpus, examples_from_qa, remove_contaminated, split_examples, write_jsonl
from .validate import ValidationReport, validate_file


@dataclass
class PreparedData:
    train: Path
    val: Path
    report: ValidationReport
    dropped_contaminated: int


def prepare_data(
    out_dir: str | Path,
    qa_path: str | Path | None = None,
    corpus: str | Path | None = None,
    qa_split: str = "dev",
    phrasings: int = 3,
    val_fraction: float = 0.1,
    seed: int = 0,
    exclude_test_of: str | Path | None = None,
) -> PreparedData:
    """Examples from the QA split and/or the corpus, contamination against ``exclude_test_of`` removed,
    split, written, and validated (the report is checked again on the written file)."""
    ex = []
    if qa_path:
        ex += examples_from_qa(qa_path, split=qa_split)
    if corpus:
        ex += examples_from_corpus(corpus, phrasings=phrasings, seed=seed)
    if not ex:
        raise WorkbenchError("no training examples: give qa_path and/or corpus")
    dropped = 0
    if exclude_test_of:
        ex, dropped = remove_contaminated(ex, exclude_test_of)
    train, val = split_examples(ex, val_fraction, seed)
    out = Path(out_dir)
    tp, vp = write_jsonl(train, out / "train.jsonl"), write_jsonl(val, out / "val.jsonl")
    report = validate_file(tp, test_set=exclude_test_of)
    if not report.ok:
        raise WorkbenchError(f"prepared data failed validation:\n{report.render()}")
    return PreparedData(tp, vp, report, dropped)


def fine_tune(data: PreparedData, backend: str = "local", **kwargs) -> str:
    """Train with ``backend`` (``local`` LoRA or ``openai``) and return the model spec (``local:ft-...``)."""
    if backend == "local":
        from .local_lora import train_lora

        return train_lora(data.train, data.val, **kwargs).model
    if backend == "openai":
        from .openai_job import run_job

        res = run_job(data.train, data.val, **kwargs)
        if not res.model:
            raise WorkbenchError(f"OpenAI fine-tuning job {res.job_id} ended {res.status}: {res.error or ''}")
        return res.model
    raise WorkbenchError(f"unknown fine-tuning backend '{backend}': local or openai")


def newest_model(prefix: str = "local:") -> str:
    """The newest fine-tuned model whose name starts with ``prefix``; "" when there is none, with a warning that
    says where it looked. It looks in the runs of every experiment of the current tracking store (the model a
    fine-tuning run produced, tag ``workbench.ft_model``), then, for ``local:`` models, in this machine's adapter
    registry (adapters trained against any store, with their GGUF file still on disk; the newest file wins)."""
    import warnings

    from .. import tags as T, tracking
    from ..config import cache_dir
    from ..llm.local import adapters

    c = tracking.client()
    exps = [e.experiment_id for e in c.search_experiments()]
    found = (
        c.search_runs(
            exps, f"tags.`{T.FT_MODEL}` LIKE '{prefix}%'", max_results=1, order_by=["attributes.start_time DESC"]
        )
        if exps
        else []
    )
    if found:
        return found[0].data.tags[T.FT_MODEL]
    local = {f"local:{name}": Path(path) for name, path in adapters().items() if f"local:{name}".startswith(prefix)}
    if local:
        return max(local, key=lambda m: local[m].stat().st_mtime)
    warnings.warn(
        f"no fine-tuned model named {prefix}*: looked in the runs of {len(exps)} experiment(s) of the "
        f"tracking store {tracking.tracking_uri()} (tag {T.FT_MODEL}) and in the adapter registry "
        f"{cache_dir() / 'adapters'} ({len(adapters())} adapter(s) with a file on disk)",
        stacklevel=2,
    )
    return ""
