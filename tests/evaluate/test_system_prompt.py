"""Evaluate what the user asked (issue 16, item 7): no default persona; the effective prompt is on the run."""

from types import SimpleNamespace

import pytest

from workbench.candidates import PromptCandidate, as_candidate


def test_prompt_candidates_send_no_system_prompt_by_default():
    for cand in (PromptCandidate("openai:gpt-5-mini"), as_candidate("local")):
        assert cand.system_prompt is None
        assert cand.messages({"id": "1", "question": "How heavy is the tent?"}) == [
            {"role": "user", "content": "How heavy is the tent?"}
        ]
        # a row's own messages are sent as they are, with nothing prepended
        msgs = [{"role": "user", "content": "hi"}]
        assert cand.messages({"id": "2", "messages": msgs}) == msgs
    given = PromptCandidate("local", system_prompt="Answer in a few words.")
    assert given.messages({"question": "q"})[0] == {"role": "system", "content": "Answer in a few words."}


@pytest.mark.parametrize("given,recorded", [(None, "(none)"), ("Answer briefly.", "Answer briefly.")])
def test_workbench_eval_records_the_effective_prompt(tracking_store, tmp_path, monkeypatch, given, recorded):
    from workbench import governance as card, tracking
    from workbench.evaluate import runner
    from workbench.evaluate.cli import run_eval_cli

    seen = {}

    def fake_evaluate(dataset, cands, **kw):  # stop before any model call: only the wiring is under test
        seen["cand"] = cands[0]
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(runner, "evaluate", fake_evaluate)
    monkeypatch.setattr(card, "govern_run", lambda rid, **kw: SimpleNamespace(error=None))
    ds = tmp_path / "qa.jsonl"
    ds.write_text('{"id": "1", "question": "q", "reference": "r"}\n')
    with pytest.raises(RuntimeError, match="stopped by the test"):
        run_eval_cli(str(ds), "local", system_prompt=given, experiment="sysprompt", run_name="r")
    assert seen["cand"].system_prompt == given
    c = tracking.client()
    run = c.search_runs([tracking.experiment_id("sysprompt")], max_results=1)[0]
    assert run.data.params["eval.system_prompt"] == recorded
