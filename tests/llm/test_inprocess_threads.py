"""The in-process pools' thread rule (issue 30): torch, onnxruntime, FAISS and the tokenizers take half the cores this
process may use, no more than the local model servers leave, settable by argument, ``[process] threads`` or
``WORKBENCH_PROCESS_THREADS``."""

import json
import os

import pytest

from workbench.errors import ConfigError
from workbench.llm import threads
from workbench.llm.threads import Machine, inprocess_rule, inprocess_threads


def m(physical, allowed=None):
    return Machine(logical=allowed or physical, allowed=allowed or physical, physical=physical, load1=0.1)


@pytest.mark.parametrize(
    "machine_, held, want",
    [
        (m(1), 0, 1),
        (m(2), 0, 1),  # half: 2 threads with one busy neighbour ran at 0.05 of quiet (bench_finetune --quick)
        (m(2), 1, 1),
        (m(2), 2, 1),
        (m(8), 0, 4),
        (m(8), 4, 4),
        (m(8), 6, 2),
        (m(16, allowed=4), 2, 2),
    ],
)
def test_rule_is_half_the_cores_and_no_more_than_the_server_leaves(machine_, held, want):
    assert inprocess_rule(machine_, held) == want
    assert inprocess_threads(m=machine_, held=held).threads == want


def test_argument_setting_env_and_library_default(workbench_toml, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PROCESS_THREADS", raising=False)
    workbench_toml("")
    assert (inprocess_threads(m=m(8), held=4).source, inprocess_threads(m=m(8), held=4).threads) == ("rule", 4)
    workbench_toml("[process]\nthreads = 3\n")
    assert inprocess_threads(m=m(8), held=4).threads == 3
    assert inprocess_threads(m=m(8), held=4).source == "setting"
    assert inprocess_threads(2, m=m(8), held=4).threads == 2  # the argument wins
    monkeypatch.setenv("WORKBENCH_PROCESS_THREADS", "5")
    assert inprocess_threads(m=m(8), held=4).threads == 5
    monkeypatch.setenv("WORKBENCH_PROCESS_THREADS", "0")
    plan = inprocess_threads(m=m(8), held=4)
    assert plan.threads == 0 and "default" in plan.describe()


def test_bad_setting_names_the_file_and_line(workbench_toml, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PROCESS_THREADS", raising=False)
    workbench_toml("[process]\n\nthreads = -2\n")
    with pytest.raises(ConfigError, match=r"workbench.toml:3: \[process\] threads must be a whole number"):
        inprocess_threads(m=m(2))


def test_held_threads_are_read_from_the_running_servers_state(tmp_path, monkeypatch):
    """The local servers' state files (as their supervisor writes them) say what they hold; dead ones hold none."""
    from workbench.llm import local

    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(tmp_path))

    def state(key, pid, cmd, status="ready"):
        (tmp_path / f"local-service-{key}.json").write_text(
            json.dumps({"pid": pid, "port": 1, "status": status, "spec": {"cmd": cmd}})
        )

    assert local.running_server_threads() == 0
    state("a", os.getpid(), ["llama-server", "-m", "x.gguf", "-t", "3", "--threads-batch", "3"])
    assert local.running_server_threads() == 3
    assert threads.held_threads() == 3  # installed by llm/local at import
    state("b", 2**22 + 7, ["llama-server", "-t", "5"])  # no such process
    state("c", os.getpid(), ["llama-server", "-t", "4"], status="stopped")
    assert local.running_server_threads() == 3
    state("d", os.getpid(), ["llama-server"])  # llama.cpp's default: one per physical core
    assert local.running_server_threads() == 3 + threads.physical_cores()


@pytest.fixture
def server_holds(monkeypatch):
    """Pretend the local server holds all cores but one; the rule then leaves this process 1 thread."""
    monkeypatch.delenv("WORKBENCH_PROCESS_THREADS", raising=False)
    here = threads.machine()
    cores = min(here.physical, here.allowed)
    if cores < 2:
        pytest.skip("needs 2 cores to tell the rule from every core")
    monkeypatch.setattr(threads, "_held_probe", lambda: cores - 1)
    return 1


def test_lora_training_sets_torch_to_the_rule(server_holds, monkeypatch, tmp_path, workbench_toml):
    """Fine-tuning used every core (``torch.set_num_threads(os.cpu_count())``) whatever else ran."""
    pytest.importorskip("peft")
    import torch
    import transformers

    from workbench.finetune import local_lora

    workbench_toml("")
    train = tmp_path / "train.jsonl"
    train.write_text(
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    )

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    before = torch.get_num_threads()
    monkeypatch.setattr(local_lora, "ensure_hf_base", lambda: tmp_path)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", stop)  # right after the threads are set
    try:
        with pytest.raises(Stop):
            local_lora.train_lora(train, log_mlflow=False, progress=False, reuse=False)
        assert torch.get_num_threads() == server_holds
        with pytest.raises(Stop):
            local_lora.train_lora(train, log_mlflow=False, progress=False, reuse=False, threads=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_threads_do_not_change_the_adapter_reuse_key(monkeypatch, tmp_path):
    """Threads change the speed, not what is learned: an adapter trained with other threads is reused."""
    pytest.importorskip("peft")
    from workbench.finetune import local_lora

    train = tmp_path / "train.jsonl"
    train.write_text(
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    )
    keys = []

    class Stop(Exception):
        pass

    def seen(key):
        keys.append(key)
        raise Stop

    monkeypatch.setattr(local_lora, "_reused", seen)
    for t in (None, 1, 3):
        with pytest.raises(Stop):
            local_lora.train_lora(train, log_mlflow=False, progress=False, threads=t)
    assert len(set(keys)) == 1


def test_onnx_embeddings_use_the_rule(server_holds):
    from workbench.llm.embeddings import MiniLMEmbedder

    emb = MiniLMEmbedder()
    assert emb.session.get_session_options().intra_op_num_threads == server_holds
    assert emb.embed(["a tent footprint"]).shape == (1, 384)


def test_faiss_uses_the_rule(server_holds, monkeypatch):
    pytest.importorskip("faiss")
    import faiss

    from workbench.rag import index

    before = faiss.omp_get_max_threads()
    monkeypatch.setattr(index, "_faiss_threads", None)
    assert index.faiss_module() is faiss
    try:
        assert faiss.omp_get_max_threads() == server_holds
    finally:
        faiss.omp_set_num_threads(before)
        index._faiss_threads = None


class ScriptedMachine:
    """``cpu_ticks`` and the clock of AdaptivePool, scripted: each reading adds ``others`` cores' worth of other
    processes' CPU (and 1 core of ours) over one second."""

    def __init__(self, monkeypatch, hz=100):
        self.t, self.busy, self.ours, self.hz = 0.0, 0, 0, hz
        monkeypatch.setattr(threads, "cpu_ticks", lambda pids: (self.busy, self.ours))

    def advance(self, others: float) -> None:
        self.t += 1.0
        self.ours += self.hz
        self.busy += self.hz + round(others * self.hz)


def test_adaptive_pool_takes_what_the_other_processes_leave(monkeypatch):
    clock = ScriptedMachine(monkeypatch)
    pool = threads.AdaptivePool(m(4), warmup_s=0)
    pool._clock, pool.hz, pool._last = (lambda: clock.t), clock.hz, (clock.busy, clock.ours, clock.t)
    seen = []
    for others in (0.0, 0.2, 0.9, 1.0, 2.5, 3.9, 0.1):
        clock.advance(others)
        seen.append(pool.choose())
    # 0.2 is under the slack; 0.9 and 1.0 take one core; 2.5 three; never below 1; a quiet machine gets all back
    assert seen == [4, 4, 3, 3, 1, 1, 4]
    assert [round(o, 2) for _, o in pool.history] == [0.0, 0.2, 0.9, 1.0, 2.5, 3.9, 0.1]


def test_adaptive_pool_without_proc_keeps_the_fixed_rule(monkeypatch):
    monkeypatch.setattr(threads, "cpu_ticks", lambda pids: (0, 0))
    pool = threads.AdaptivePool(m(8), held=2, warmup_s=0)
    assert pool.choose() == inprocess_rule(m(8), 2) == 4 and pool.history == [(4, None)]


def test_adaptive_pool_sees_a_real_neighbour():
    """On Linux: a CPU-bound child process for 1 s shows up as about one core of other processes' CPU."""
    import subprocess
    import sys
    import time

    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc")
    pool = threads.AdaptivePool(warmup_s=0)
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<1.5: pass"])
    try:
        time.sleep(1.0)
        busy = pool.others()
    finally:
        child.wait(timeout=30)
    assert busy is not None and busy > 0.6  # the child's core (the machine may add more)
