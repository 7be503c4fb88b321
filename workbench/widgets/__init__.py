"""Jupyter widgets (ipywidgets): the prompt playground and the side-by-side review of two evaluation runs."""
