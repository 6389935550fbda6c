"""Settings from the environment and a TOML file, and the cached accessor."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import CONFIG_ENV, Settings, get_settings


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8000, Path("data"))
    assert settings.api_key is None and settings.cors_origins == []


def test_toml_file_then_environment_then_arguments(monkeypatch, tmp_path):
    config = tmp_path / "conf.toml"
    config.write_text('data_dir = "/srv/sleuth"\nport = 9000\napi_key = "from-toml"\n'
                      'cors_origins = ["http://a"]\n')
    monkeypatch.setenv(CONFIG_ENV, str(config))
    assert Settings().port == 9000
    monkeypatch.setenv("SLEUTH_PORT", "9100")
    settings = Settings()
    assert (settings.port, settings.data_dir) == (9100, Path("/srv/sleuth"))
    assert settings.api_key.get_secret_value() == "from-toml"
    assert "from-toml" not in repr(settings)
    assert Settings(port=9200).port == 9200


def test_unknown_or_bad_values_are_rejected(monkeypatch, tmp_path):
    config = tmp_path / "conf.toml"
    config.write_text("prot = 1\n")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    with pytest.raises(ValidationError, match="prot"):
        Settings()
    monkeypatch.delenv(CONFIG_ENV)
    monkeypatch.setenv("SLEUTH_MAX_UPLOAD_BYTES", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_get_settings_is_cached_and_overridable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()
