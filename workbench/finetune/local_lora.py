"""LoRA fine-tuning of the embedded SmolLM2-135M-Instruct on CPU (extra ``[finetune]``: torch, transformers,
peft, gguf), then serving it through the embedded llama-server with ``--lora``.

1. The base is loaded from the same GGUF the server uses (transformers dequantizes it) and kept as an HF
   copy in the cache (``save_pretrained`` needs ``hf_quantizer = None`` and no ``quantization_config``).
2. peft LoRA on all attention and MLP projections; loss only on assistant tokens (prompt tokens are -100);
   plain AdamW loop with a tqdm bar showing the loss; the loss per step goes to MLflow.
3. The adapter is converted with llama.cpp's ``convert_lora_to_gguf.py`` (from the same pinned sdist the
   server is built from) and registered as ``local:ft-<run id prefix>``: ``wb.chat``/``wb.evaluate`` use it
   like any model (a second llama-server process started on demand with ``--lora``).

Defaults learn new facts without catastrophic forgetting on our machines: lr 2e-4 learns and keeps general
knowledge; lr 1e-3 forgets ("the capital of France is Tallinn").
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import tags as T
from ..config import cache_dir
from ..errors import SetupError, WorkbenchError
from ..llm.assets import SMOLLM2_GGUF
from ..llm.local import file_lock, llama_cpp_source, log, pinned_model_path, register_adapter
from ..llm.threads import AdaptivePool, inprocess_threads
from ..options import split_options
from ..progress import bar as progress_bar

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


EXTRA_MODULES = ("torch", "transformers", "peft")
INSTALL_HINT = (
    "pip install -c constraints.txt -e '.[finetune]' (on Linux install torch from PyTorch's CPU index "
    "first: README, Install)"
)


def missing_extra() -> list[str]:
    """The [finetune] modules that are not installed (looked up, not imported: cheap)."""
    import importlib.util

    return [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None]


def skip_message(what: str = "fine-tuning") -> str | None:
    """One line saying ``what`` is skipped and how to add the extra; None when the extra is installed."""
    missing = missing_extra()
    return (
        (
            f"{what} skipped: the [finetune] extra is not installed ({', '.join(missing)} missing); add it with: "
            f"{INSTALL_HINT}"
        )
        if missing
        else None
    )


def require_extra() -> None:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        raise SetupError(
            f"local fine-tuning needs the [finetune] extra ({e.name} is missing): {INSTALL_HINT}"
        ) from None


def hf_base_dir() -> Path:
    return cache_dir() / "hf" / f"smollm2-135m-instruct-{SMOLLM2_GGUF.sha256[:8]}"


def ensure_hf_base() -> Path:
    """An HF copy (safetensors + tokenizer) of the GGUF base, made once and cached."""
    out = hf_base_dir()
    if (out / "config.json").is_file():
        return out
    require_extra()
    with file_lock("hf-base"):
        if (out / "config.json").is_file():
            return out
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = pinned_model_path()
        log("dequantizing the SmolLM2 GGUF into an HF copy (once) ...")
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model.hf_quantizer = None  # type: ignore[assignment]  # transformers' stub types it as a module; None drops the quantizer
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        os.replace(tmp, out)
    return out


def encode(tok, messages: list[dict], max_len: int = 512) -> tuple[list[int], list[int]]:
    """(input ids, labels) with labels -100 on everything but the last assistant message."""
    if messages[-1]["role"] != "assistant":
        raise WorkbenchError("a training example must end with an assistant message")
    prompt = tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    f_ids = tok(full, add_special_tokens=False)["input_ids"][:max_len]
    labels = [-100] * min(len(p_ids), len(f_ids)) + f_ids[len(p_ids) :]
    return f_ids, labels


@dataclass
class LoraResult:
    model: str  # "local:ft-xxxxxxxx"
    adapter_dir: Path
    gguf_path: Path
    losses: list[float] = field(default_factory=list)
    val_loss: float | None = None
    train_s: float = 0.0
    peak_rss_mb: float = 0.0
    steps: int = 0
    params: dict = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


GROUP = 8  # batches whose examples are grouped by length (see _batches)


def _batches(examples, batch_size, rng, group: int = GROUP):
    """Batches of ``examples`` forever, epoch after epoch in a new random order. Within each run of ``group``
    batches the examples are sorted by length before they are cut into batches, and those batches are shuffled
    (the length grouping of transformers' ``group_by_length``, in small groups): a batch is padded to its
    longest example, and grouping cut the demo's padded tokens per step by 14% (374 -> 321 after the shared
    prefix) while every example is still seen once per epoch."""
    while True:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for i in range(0, len(order), batch_size * group):
            run = sorted(order[i : i + batch_size * group], key=lambda j: len(examples[j][0]))
            cut = [run[k : k + batch_size] for k in range(0, len(run), batch_size)]
            rng.shuffle(cut)
            for b in cut:
                yield [examples[j] for j in b]


def _collate(batch, pad_id):
    import torch

    n = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), n), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, (x, y) in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return ids, mask, labels


def shared_prefix(ids, mask, labels) -> int:
    """How many leading tokens every row of the batch shares and no loss reads: the longest ``p`` with
    ``ids[:, :p]`` equal in all rows, shorter than every row, and no label set at positions ``0..p`` (the hidden
    state at ``p - 1`` predicts token ``p``, so that label must be unset too)."""
    n = int(mask.sum(dim=1).min())  # the shortest row's length
    differs = (ids[:, :n] != ids[:1, :n]).any(dim=0).nonzero()
    labelled = (labels[:, :n] != -100).any(dim=0).nonzero()
    first_diff = int(differs[0]) if len(differs) else n
    first_label = int(labelled[0]) if len(labelled) else n
    return max(min(first_diff, first_label - 1, n - 1), 0)


def answer_loss(model, ids, mask, labels):
    """The causal-LM loss of ``model`` (a peft-wrapped ``*ForCausalLM``) on ``ids``: the same number as
    ``model(input_ids=ids, attention_mask=mask, labels=labels).loss`` (cross-entropy of each next token, mean over
    the positions whose label is not -100), computed with less work:

    - The output layer is applied only where a label is set. The output layer (49,152 logits a token for SmolLM2)
      and its softmax are about a fifth of a step's forward work, and most of a training example is prompt and
      padding, whose logits the loss never reads.
    - The prefix every row shares and no label reads (:func:`shared_prefix`: the system prompt, 23 of the demo's
      about 70 tokens a row) runs once for the batch; its keys and values, repeated per row, are the cache the
      rest of each row attends to. Gradients flow through that cache, so the loss and its gradients are the same."""
    import torch.nn.functional as F

    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    p = shared_prefix(ids, mask, labels) if ids.shape[0] > 1 else 0
    if p:
        cache = lm.model(input_ids=ids[:1, :p], use_cache=True).past_key_values
        cache.batch_repeat_interleave(ids.shape[0])
        out = lm.model(input_ids=ids[:, p:], attention_mask=mask, past_key_values=cache, use_cache=True)
    else:
        out = lm.model(input_ids=ids, attention_mask=mask)
    hidden = out.last_hidden_state[:, :-1]
    target = labels[:, p + 1 :]
    keep = target != -100
    logits = lm.lm_head(hidden[keep])
    return F.cross_entropy(logits.float(), target[keep])


def train_steps(
    model, opt, batches, n_steps: int, pad_id: int, bar=None, pool: AdaptivePool | None = None
) -> list[float]:
    """``n_steps`` optimizer steps, each on the next batch of ``batches`` (lists of :func:`encode` pairs); the loss
    of each step. ``bar`` (a tqdm bar) is advanced per step and closed. ``pool``: torch's threads are chosen
    again before every step (:class:`~workbench.llm.threads.AdaptivePool`). The training loop of
    :func:`train_lora`, public so that ``benchmarks/bench_finetune.py`` times exactly it."""
    import torch

    model.train()
    losses: list[float] = []
    for _step in range(n_steps):
        if pool is not None and (n := pool.choose()) != torch.get_num_threads():
            torch.set_num_threads(n)
        ids, mask, labels = _collate(next(batches), pad_id)
        loss = answer_loss(model, ids, mask, labels)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.detach().item())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    if bar is not None:
        bar.close()
    return losses


def convert_adapter(adapter_dir: Path, out: Path) -> Path:
    """LoRA adapter (peft) → GGUF with llama.cpp's ``convert_lora_to_gguf.py``."""
    script = llama_cpp_source() / "convert_lora_to_gguf.py"
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            "--base",
            str(ensure_hf_base()),
            "--outfile",
            str(out),
            "--outtype",
            "f32",
            str(adapter_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not out.is_file():
        raise SetupError(f"convert_lora_to_gguf.py failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return out


@dataclass(frozen=True)
class LoraSettings:
    """What a LoRA training run learns with: its hyperparameters (the adapter-reuse key is made of these and the
    data). Defaults measured on SmolLM2: lr 2e-4 learns new facts and keeps general knowledge, 1e-3 forgets."""

    r: int = 16  # LoRA rank
    alpha: int = 32  # LoRA scaling (alpha / r)
    lr: float = 2e-4  # AdamW learning rate
    steps: int | None = None  # optimizer steps; overrides epochs
    epochs: float = 3.0  # passes over the training examples (when steps is None)
    batch_size: int = 8
    seed: int = 0  # example order and adapter init
    max_len: int = 256  # tokens per example (longer ones are cut)


def train_lora(
    train_file: str | Path,
    val_file: str | Path | None = None,
    lora: LoraSettings | None = None,
    *,
    name: str | None = None,
    run_id: str | None = None,
    log_mlflow: bool = True,
    progress: bool = True,
    reuse: bool = True,
    threads: int | None = None,
    **options,
) -> LoraResult:
    """Train, convert, register. ``lora`` (:class:`LoraSettings`), or its fields as keywords in ``options``
    (``r``, ``alpha``, ``lr``, ``steps``, ``epochs``, ``batch_size``, ``seed``, ``max_len``; they override
    ``lora``; any other name is an :class:`~workbench.errors.UnknownOption` error). ``name``: the adapter's
    (default ``ft-<run>``); ``reuse``: return the adapter already trained on identical data and settings;
    ``threads``: torch's threads (None: the ``[process] threads`` setting if any, else chosen before every step by
    :class:`workbench.llm.threads.AdaptivePool`: the cores the machine's other processes leave; not part of the
    reuse key: they change the speed, not what is learned). Logs
    params, loss per step and artifacts (adapter folder + GGUF) to the MLflow run when ``log_mlflow``."""
    (cfg,) = split_options("train_lora", options, lora or LoraSettings())
    require_extra()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    r, alpha, lr, steps, epochs = cfg.r, cfg.alpha, cfg.lr, cfg.steps, cfg.epochs
    batch_size, seed, max_len = cfg.batch_size, cfg.seed, cfg.max_len
    train = _read_jsonl(Path(train_file))
    if not train:
        raise WorkbenchError(f"{train_file}: no training examples")
    key = _training_key(train_file, val_file, **asdict(cfg), length_group=GROUP)  # the batching is in the key
    if reuse and (prev := _reused(key)) is not None:
        log(f"identical data and parameters were trained before: reusing {prev.model} (pass reuse=False to retrain)")
        if log_mlflow:
            from .. import tracking

            tracking.set_tags({T.FT_MODEL: prev.model, T.FT_REUSED: "true"}, run_id or tracking.current_run_id())
        return prev
    base = ensure_hf_base()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    pool = inprocess_threads(threads)
    # the rule's number adapts between steps to what the machine's other processes use; a setting stays fixed
    adaptive = AdaptivePool(held=pool.held) if pool.source == "rule" else None
    if pool.threads:
        torch.set_num_threads(pool.threads)
    tok = AutoTokenizer.from_pretrained(base)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    enc = [encode(tok, ex["messages"], max_len) for ex in train]
    enc_val = [encode(tok, ex["messages"], max_len) for ex in _read_jsonl(Path(val_file))] if val_file else []
    n_steps = steps or max(1, math.ceil(len(enc) / batch_size * epochs))
    model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(
        model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGET_MODULES, task_type="CAUSAL_LM")
    )
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    params = {
        "ft.backend": "local",
        "ft.base": "SmolLM2-135M-Instruct",
        "ft.r": r,
        "ft.alpha": alpha,
        "ft.lr": lr,
        "ft.steps": n_steps,
        "ft.batch_size": batch_size,
        "ft.seed": seed,
        "ft.examples": len(enc),
        "ft.max_len": max_len,
        "ft.length_group": GROUP,
        "ft.torch_threads": f"adaptive 1-{adaptive.cores}" if adaptive else torch.get_num_threads(),
        "ft.target_modules": ",".join(TARGET_MODULES),
    }
    if log_mlflow:
        from .. import tracking

        run_id = run_id or tracking.current_run_id()
        tracking.log_params(params, run_id)
    name = name or f"ft-{(run_id or os.urandom(4).hex())[:8]}"
    bar = progress_bar(n_steps, f"LoRA {name}", "step", enabled=bool(progress))
    t0 = time.monotonic()
    losses = train_steps(model, opt, _batches(enc, batch_size, rng), n_steps, pad_id, bar, pool=adaptive)
    train_s = time.monotonic() - t0
    out = cache_dir() / "adapters" / name
    shutil.rmtree(out, ignore_errors=True)
    adapter_dir = out / "adapter"
    model.save_pretrained(adapter_dir)
    val_loss = None
    # the conversion (a python process that starts by importing torch, about 6 s) runs while the validation loss
    # is computed: one core each for most of it
    with ThreadPoolExecutor(1) as background:
        converted = background.submit(convert_adapter, adapter_dir, out / f"{name}.gguf")
        if enc_val:
            model.eval()
            with torch.no_grad():
                vals = [
                    float(answer_loss(model, i, m, lab))
                    for i, m, lab in (
                        _collate(enc_val[k : k + batch_size], pad_id) for k in range(0, len(enc_val), batch_size)
                    )
                ]
            val_loss = sum(vals) / len(vals)
        gguf = converted.result()
    register_adapter(name, gguf)
    # the training record: training.json (read back by _reused) and the result both hold it
    record: dict[str, Any] = {
        "model": f"local:{name}",
        "losses": losses,
        "val_loss": val_loss,
        "train_s": train_s,
        "params": params,
    }
    (out / "training.json").write_text(json.dumps({"key": key, **record}))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = LoraResult(adapter_dir=adapter_dir, gguf_path=gguf, peak_rss_mb=peak, steps=n_steps, **record)
    if log_mlflow:
        from mlflow.entities import Metric

        from .. import tracking

        assert run_id is not None  # set from tracking.current_run_id() above whenever log_mlflow
        ts = int(time.time() * 1000)
        items = [Metric("ft/loss", v, ts, i) for i, v in enumerate(losses)]
        if adaptive is not None:  # the threads each step ran with, and the other processes' CPU that chose them
            items += [Metric("ft/torch_threads", n, ts, i) for i, (n, _) in enumerate(adaptive.history)]
            items += [Metric("ft/other_cores", o, ts, i) for i, (_, o) in enumerate(adaptive.history) if o is not None]
        c = tracking.client()
        for i in range(0, len(items), 1000):
            c.log_batch(run_id, metrics=items[i : i + 1000])
        tracking.log_metrics(
            {
                "ft/train_s": train_s,
                "ft/peak_rss_mb": peak,
                "ft/final_loss": losses[-1],
                **({"ft/val_loss": val_loss} if val_loss is not None else {}),
            },
            run_id=run_id,
        )
        tracking.set_tags({T.FT_MODEL: res.model}, run_id)
        c.log_artifacts(run_id, str(adapter_dir), "adapter")
        c.log_artifact(run_id, str(gguf), "adapter_gguf")
    return res


def _training_key(train_file, val_file, **params) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for f in (train_file, val_file):
        if f:
            h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def _reused(key: str) -> LoraResult | None:
    """A registered adapter trained on identical data with identical parameters (so re-runs are fast)."""
    from ..llm.local import adapters

    for gguf in adapters().values():
        meta = Path(gguf).parent / "training.json"
        with contextlib.suppress(OSError, ValueError):
            m = json.loads(meta.read_text())
            if m.get("key") == key:
                return LoraResult(
                    model=m["model"],
                    adapter_dir=Path(gguf).parent / "adapter",
                    gguf_path=Path(gguf),
                    losses=m.get("losses", []),
                    val_loss=m.get("val_loss"),
                    train_s=0.0,
                    params=m.get("params", {}),
                )
    return None


def serve_from_run(run_id: str) -> str:
    """Register the GGUF adapter logged by a past run; returns its model name (``local:ft-...``)."""
    from .. import tracking

    name = f"ft-{run_id[:8]}"
    dest = cache_dir() / "adapters" / name
    dest.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        path = tracking.client().download_artifacts(run_id, "adapter_gguf", str(dest))
        files = list(Path(path).glob("*.gguf"))
        if files:
            register_adapter(name, files[0])
            return f"local:{name}"
    raise WorkbenchError(f"run {run_id} has no adapter_gguf artifact: train with workbench.finetune first")
