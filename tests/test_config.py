from __future__ import annotations

import pytest

from gansynth.config import (
    SpectralConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_overrides,
    save_config,
)
from gansynth.errors import ConfigError


def test_layout_properties() -> None:
    hires = SpectralConfig(layout="hires")
    assert (hires.n_fft, hires.hop, hires.pad, hires.frames, hires.bins) == (2048, 512, 3072, 128, 1024)
    base = SpectralConfig(layout="base")
    assert (base.n_fft, base.hop, base.pad, base.frames, base.bins) == (1024, 256, 2304, 256, 512)


@pytest.mark.parametrize("kwargs, message", [
    ({"representation": "mag"}, "representation"),
    ({"layout": "lowres"}, "layout"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"audio_length": 64001}, "audio_length"),
])
def test_invalid_spectral_config_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SpectralConfig(**kwargs)


def test_from_dict_checks_keys_and_types() -> None:
    assert config_from_dict(SpectralConfig, {"layout": "base"}).layout == "base"
    with pytest.raises(ConfigError, match="unknown config key layuot"):
        config_from_dict(SpectralConfig, {"layuot": "base"})
    with pytest.raises(ConfigError, match="sample_rate: expected an integer"):
        config_from_dict(SpectralConfig, {"sample_rate": "fast"})


def test_yaml_overrides_and_save_round_trip(tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("representation: if\nlayout: hires\n")
    config = load_config(SpectralConfig, path, ["layout=base"])
    assert (config.representation, config.layout) == ("if", "base")
    saved = tmp_path / "resolved.yaml"
    save_config(config, saved)
    assert load_config(SpectralConfig, saved) == config
    assert config_to_dict(config)["layout"] == "base"


def test_bad_yaml_and_overrides() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(SpectralConfig, "/nonexistent/x.yaml")
    with pytest.raises(ConfigError, match="section.field=value"):
        parse_overrides(["layout"])
    assert parse_overrides(["a.b=3", "a.c=[1, 2]"]) == {"a": {"b": 3, "c": [1, 2]}}
