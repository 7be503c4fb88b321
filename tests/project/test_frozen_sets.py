"""The blind labelled sets under ``datasets/calibration/`` are frozen: every file their ``MANIFEST.sha256`` lists
is unchanged (a reported accuracy names its set; an edit after the measurement would make the figure unverifiable)."""

import hashlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "datasets" / "calibration").glob("*/MANIFEST.sha256"))


def test_there_are_frozen_sets():
    assert {m.parent.name for m in MANIFESTS} >= {"blind27", "conv_blind28"}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.parent.name for m in MANIFESTS])
def test_a_frozen_set_matches_its_manifest(manifest):
    listed = [line.split(maxsplit=1) for line in manifest.read_text().splitlines() if line.strip()]
    assert listed
    changed = [
        name
        for digest, name in listed
        if hashlib.sha256((manifest.parent / name.lstrip("*")).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"{manifest.parent.name}: changed since it was frozen: {changed}"
