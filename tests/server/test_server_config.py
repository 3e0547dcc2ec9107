"""The IbertServer app's configuration: checked traits, IBERT_* environment variables as defaults."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from ibert_jupyter.jupyter.server import IbertModel, IbertServer


@pytest.mark.parametrize(("trait", "value"), [("cpu_workers", 0), ("verifier_workers", -1), ("default_n", 17),
                                              ("default_rounds", 0), ("max_small_body_bytes", 0)])
def test_a_bad_setting_is_refused_naming_the_trait(trait, value):
    with pytest.raises(TraitError, match=trait):
        IbertServer(config=Config({"IbertServer": {trait: value}}))


def test_environment_is_the_default_and_config_wins(monkeypatch):
    monkeypatch.setenv("IBERT_VERIFIER_WORKERS", "3")
    assert IbertServer().verifier_workers == 3
    assert IbertServer(config=Config({"IbertServer": {"verifier_workers": 1}})).verifier_workers == 1
    monkeypatch.setenv("IBERT_MODEL", "/env/devstral")
    monkeypatch.setenv("IBERT_QUANTIZATION", "nf4")
    monkeypatch.setenv("IBERT_ADAPTER", "/env/lora")
    settings = IbertModel(config=Config({"IbertModel": {"model": "/config/devstral"}})).settings()
    assert (settings.model, settings.quantization, settings.adapter) == ("/config/devstral", "nf4", "/env/lora")
