"""The real embedded server (llama.cpp + SmolLM2) through the workbench client and the plain openai client."""

import asyncio
import json
import subprocess
import sys

import openai

import workbench as wb
from workbench.llm.local import ensure_server


def test_chat_roundtrip_records_everything(local_server):
    r = wb.chat(
        "What is the capital of France? Answer in one word.", model="local", cache="off", max_tokens=16, temperature=0
    )
    assert r.ok, r.error_message
    assert r.text.strip()
    assert r.endpoint == "local" and r.model == "smollm2"
    assert r.prompt_tokens > 5 and r.completion_tokens > 0 and not r.usage_estimated
    assert r.latency_s > 0 and 0 < r.ttft_s <= r.latency_s
    assert r.tokens_per_s and r.tokens_per_s > 0
    assert r.cost_usd == 0.0
    assert r.finish_reason in ("stop", "length") and r.attempts == 1 and not r.cache_hit


def test_non_streaming_call(local_server):
    r = wb.chat("Say yes.", model="local", cache="off", max_tokens=4, stream=False)
    assert r.ok and r.ttft_s is None and r.completion_tokens > 0


def test_eight_concurrent_calls_complete(local_server):
    prompts = [f"Count from {i} to {i + 3}." for i in range(8)]
    recs = wb.chat_many(prompts, model="local", cache="off", max_tokens=24, temperature=0)
    assert len(recs) == 8 and all(r.ok for r in recs)
    assert all(r.completion_tokens > 0 for r in recs)


def test_cache_hit_keeps_original_measurements(local_server):
    kw = dict(model="local", max_tokens=12, temperature=0)
    first = wb.chat("Name one color.", **kw)
    second = wb.chat("Name one color.", **kw)
    assert not first.cache_hit and second.cache_hit
    for f in ("text", "latency_s", "ttft_s", "prompt_tokens", "completion_tokens", "cost_usd"):
        assert getattr(second, f) == getattr(first, f), f
    # any change of message, param or model misses
    assert not wb.chat("Name one colour.", **kw).cache_hit
    assert not wb.chat("Name one color.", model="local", max_tokens=13, temperature=0).cache_hit
    assert not wb.chat("Name one color.", system="Be brief.", **kw).cache_hit
    assert not wb.chat("Name one color.", repeat=1, **kw).cache_hit
    # refresh mode ignores the entry; off mode never reads
    assert not wb.chat("Name one color.", cache="refresh", **kw).cache_hit
    assert not wb.chat("Name one color.", cache="off", **kw).cache_hit


def test_sync_facade_inside_running_event_loop(local_server):
    async def notebook_cell():
        # Jupyter runs cells inside a live loop; the sync API must still work there.
        assert asyncio.get_running_loop().is_running()
        return wb.chat("Say hi.", model="local", cache="off", max_tokens=4)

    r = asyncio.run(notebook_cell())
    assert r.ok and r.text


def test_plain_openai_client_chat_and_stream(local_server):
    client = openai.OpenAI(base_url=local_server.base_url, api_key="none")
    resp = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=8)
    assert resp.choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert any(c.usage and c.usage.completion_tokens for c in chunks)


def test_server_shared_across_processes(local_server):
    here = ensure_server()  # the current shared server (a newly registered adapter may have replaced the first)
    assert ensure_server().pid == here.pid
    code = "from workbench.llm.local import ensure_server; import json; h = ensure_server(); print(json.dumps([h.pid, h.port, h.owned]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    pid, port, owned = json.loads(out.stdout.strip().splitlines()[-1])
    assert (pid, port) == (here.pid, here.port) and not owned
    assert here.healthy()


def test_local_token_count_is_exact(local_server):
    from workbench.llm.endpoints import resolve

    ep, model, kind = resolve("local")
    n, acc = kind.count_tokens(ep, model, "Hello world, this is a test.")
    assert acc == "exact" and 4 <= n <= 12


def test_the_served_model_is_the_pinned_weights_widened_to_f16():
    """The server runs the pinned Q4_1 file's weights: every Q4_1 tensor dequantized (to F16 rounding), every other
    tensor byte for byte, the same metadata but the file type."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader
    from gguf.quants import dequantize

    from workbench.llm.local import model_path, pinned_model_path

    src, served = GGUFReader(pinned_model_path()), GGUFReader(model_path())
    assert [t.name for t in src.tensors] == [t.name for t in served.tensors]
    widened = 0
    for a, b in zip(src.tensors, served.tensors, strict=True):
        if a.tensor_type == GGMLQuantizationType.Q4_1:
            assert b.tensor_type == GGMLQuantizationType.F16
            want = dequantize(a.data, a.tensor_type)
            assert np.allclose(np.asarray(b.data, dtype=np.float32), want, rtol=1e-3, atol=1e-6), a.name
            widened += 1
        else:
            assert b.tensor_type == a.tensor_type and bytes(a.data) == bytes(b.data), a.name
    assert widened == 210
    meta = {k: f.contents() for k, f in src.fields.items() if not k.startswith("GGUF.") and k != "general.file_type"}
    assert meta == {k: served.fields[k].contents() for k in meta}
    assert served.fields["general.file_type"].contents() == 1  # MOSTLY_F16
