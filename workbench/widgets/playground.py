"""The prompt playground: edit a template with variables, pick models and generation params, run, compare
outputs side by side with tokens, latency, TTFT and cost; log the comparison to MLflow; save the template to
the MLflow prompt registry. All logic is in :mod:`workbench.prompts`; this is only the UI."""

from __future__ import annotations

import json

import pandas as pd

from .. import prompts


class Playground:
    def __init__(self, template: str = "Answer in one sentence: {question}", variables: dict | None = None,
                 models: list[str] | None = None, system: str | None = None, temperature: float = 0.0,
                 max_tokens: int = 128):
        import ipywidgets as w

        from ..config import settings
        from ..llm.endpoints import kind_of

        s = settings()
        options = [f"{ep.name}:{m}" for ep in s.endpoints.values() if ep.has_key() for m in kind_of(ep).models(ep)]
        self.template = w.Textarea(value=template, description="template", layout=w.Layout(width="100%", height="80px"))
        self.variables = w.Textarea(value=json.dumps(variables or {"question": "What is a tent footprint?"}),
                                    description="variables", layout=w.Layout(width="100%", height="60px"))
        self.system = w.Text(value=system or "", description="system")
        self.models = w.SelectMultiple(options=options, value=tuple(models or options[:1]), description="models")
        self.temperature = w.FloatSlider(value=temperature, min=0, max=2, step=0.1, description="temperature")
        self.max_tokens = w.IntSlider(value=max_tokens, min=1, max=1024, description="max_tokens")
        self.prompt_name = w.Text(value="contoso-assistant", description="prompt name")
        self.run_button = w.Button(description="Run", button_style="primary")
        self.log_button = w.Button(description="Log to MLflow")
        self.save_button = w.Button(description="Save prompt")
        self.out = w.Output()
        self.status = w.HTML()
        self.results: pd.DataFrame | None = None
        self.run_button.on_click(lambda _: self.run())
        self.log_button.on_click(lambda _: self.log())
        self.save_button.on_click(lambda _: self.save())
        self.widget = w.VBox([self.template, self.variables, self.system, self.models,
                              w.HBox([self.temperature, self.max_tokens]),
                              w.HBox([self.run_button, self.log_button, self.prompt_name, self.save_button]),
                              self.status, self.out])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _vars(self) -> list[dict]:
        v = json.loads(self.variables.value or "{}")
        return v if isinstance(v, list) else [v]

    def run(self) -> pd.DataFrame:
        self.results = prompts.run_grid([self.template.value], list(self.models.value), self._vars(),
                                        system=self.system.value or None, temperature=self.temperature.value,
                                        max_tokens=self.max_tokens.value, progress=False)
        view = self.results[["model", "output", "prompt_tokens", "completion_tokens", "latency_s", "ttft_s",
                             "cost_usd", "error"]]
        self.out.clear_output()
        with self.out:
            from IPython.display import display

            display(view.style.format(precision=3) if hasattr(view, "style") else view)
        self.status.value = f"{len(view)} call(s) done"
        return self.results

    def log(self) -> str:
        from .. import tracking

        if self.results is None:
            self.run()
        rid = tracking.current_run_id()
        tracking.log_table(self.results, "playground.json", run_id=rid)
        tracking.log_params({"playground.template": self.template.value, "playground.system": self.system.value,
                             "playground.temperature": self.temperature.value,
                             "playground.max_tokens": self.max_tokens.value}, run_id=rid)
        self.status.value = f"logged to run {rid}"
        return rid

    def save(self) -> int:
        version = prompts.register(self.prompt_name.value, self.template.value, alias="current")
        self.status.value = f"saved {self.prompt_name.value} version {version} (alias current)"
        return version
