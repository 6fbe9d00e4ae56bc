from pathlib import Path

import pytest
from pydantic import ValidationError

from ponder.config import ServerConfig, load_settings
from ponder.errors import ConfigError


def test_defaults_live_under_xdg_data_home(isolated_dirs: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == isolated_dirs / "data" / "ponder"
    assert settings.models_dir == settings.data_dir / "models"
    assert settings.model.startswith("embedded:")


def test_precedence_file_then_env_then_flags(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = isolated_dirs / "config" / "ponder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        'max_tokens = 100\ntemperature = 0.1\nseed = 5\n\n[models.box]\nspec = "openai:http://x/v1#m"\n'
    )
    monkeypatch.setenv("PONDER_TEMPERATURE", "0.2")
    settings = load_settings(seed=9)
    assert settings.max_tokens == 100  # file
    assert settings.temperature == 0.2  # environment beats file
    assert settings.seed == 9  # flag beats both
    assert settings.models["box"].spec == "openai:http://x/v1#m"
    assert load_settings(seed=None).seed == 5  # an unset flag does not override


def test_invalid_values_give_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_MAX_TOKENS", "lots")
    with pytest.raises(ConfigError, match="max_tokens"):
        load_settings()


def test_broken_toml_is_reported_with_its_path(isolated_dirs: Path) -> None:
    config = isolated_dirs / "config" / "ponder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("model = \n")
    with pytest.raises(ConfigError, match="config.toml"):
        load_settings()


def test_unknown_keys_are_rejected(isolated_dirs: Path) -> None:
    config = isolated_dirs / "config" / "ponder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("modle = 'x'\n")
    with pytest.raises(ConfigError, match="modle"):
        load_settings()


def test_the_public_base_url_is_configured_never_guessed(isolated_dirs: Path) -> None:
    assert load_settings().server.base_url == "http://127.0.0.1:8000"  # the loopback bind address
    wildcard = ServerConfig(host="0.0.0.0", port=9000)
    assert wildcard.base_url == "http://127.0.0.1:9000"
    assert ServerConfig(host="::1", port=9000).base_url == "http://[::1]:9000"
    set_ = ServerConfig(public_base_url="https://shop.example.com/ponder/")
    assert set_.base_url == "https://shop.example.com/ponder"
    for bad in ("shop.example.com", "ftp://shop.example.com", "https://shop.example.com/?x=1", "https://#a"):
        with pytest.raises(ValidationError, match="public_base_url"):
            ServerConfig(public_base_url=bad)
