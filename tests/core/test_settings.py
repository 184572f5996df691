"""Settings: defaults < crmkit.toml < CRMKIT_* environment < keyword overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from crmkit.core import Settings, SettingsError, load_settings
from crmkit.core.settings import DEFAULT_DATABASE_URL, settings_path

NO_FILE = {"CRMKIT_CONFIG": "/nonexistent/crmkit.toml"}


@pytest.fixture
def toml_file(tmp_path: Path):
    def write(text: str) -> dict[str, str]:
        path = tmp_path / "crmkit.toml"
        path.write_text(text, "utf-8")
        return {"CRMKIT_CONFIG": str(path)}

    return write


def test_defaults() -> None:
    settings = load_settings(NO_FILE)
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.plugins is None
    assert settings.auth is True
    assert settings.page_size == 50
    assert settings.max_page_size == 500
    assert settings.config_path is None
    assert settings.plugin_settings("anything") == {}


def test_default_path_is_crmkit_toml_in_the_working_directory() -> None:
    assert settings_path({}) == Path("crmkit.toml")
    assert settings_path({"CRMKIT_CONFIG": "/etc/crm.toml"}) == Path("/etc/crm.toml")


def test_toml_file_from_crmkit_config(toml_file) -> None:
    env = toml_file(
        'database_url = "postgresql://db/crm"\n'
        "page_size = 25\n"
        "auth = false\n"
        'plugins = ["individuals", "organizations"]\n'
        "\n"
        "[plugin.individuals]\n"
        'name_order = "family_first"\n'
    )
    settings = load_settings(env)
    assert settings.database_url == "postgresql://db/crm"
    assert settings.page_size == 25
    assert settings.auth is False
    assert settings.plugins == ["individuals", "organizations"]
    assert settings.plugin_settings("individuals") == {"name_order": "family_first"}
    assert settings.config_path == env["CRMKIT_CONFIG"]


def test_environment_overrides_toml(toml_file) -> None:
    env = toml_file('page_size = 25\ndefault_region = "SE"\n')
    env |= {"CRMKIT_PAGE_SIZE": "75", "CRMKIT_AUTH": "false", "CRMKIT_SQLITE_BUSY_TIMEOUT": "2.5"}
    settings = load_settings(env)
    assert settings.page_size == 75
    assert settings.auth is False
    assert settings.sqlite_busy_timeout == 2.5
    assert settings.default_region == "SE"  # not overridden: the file's value stays


def test_plugins_is_a_comma_list() -> None:
    settings = load_settings(NO_FILE | {"CRMKIT_PLUGINS": " individuals, organizations ,,"})
    assert settings.plugins == ["individuals", "organizations"]


def test_empty_plugins_list_enables_nothing() -> None:
    assert load_settings(NO_FILE | {"CRMKIT_PLUGINS": ""}).plugins == []


def test_bad_environment_value_is_one_line_error_naming_it() -> None:
    with pytest.raises(SettingsError) as exc_info:
        load_settings(NO_FILE | {"CRMKIT_PAGE_SIZE": "abc"})
    message = str(exc_info.value)
    assert "page_size" in message
    assert "\n" not in message


def test_broken_toml_is_a_settings_error(toml_file) -> None:
    env = toml_file("page_size = = 3\n")
    with pytest.raises(SettingsError) as exc_info:
        load_settings(env)
    message = str(exc_info.value)
    assert env["CRMKIT_CONFIG"] in message
    assert "\n" not in message


def test_unknown_key_in_toml_is_a_settings_error(toml_file) -> None:
    env = toml_file("page_sise = 3\n")
    with pytest.raises(SettingsError, match="page_sise"):
        load_settings(env)


def test_wrong_type_in_toml_is_a_settings_error(toml_file) -> None:
    env = toml_file('max_page_size = "lots"\n')
    with pytest.raises(SettingsError, match="max_page_size"):
        load_settings(env)


def test_keyword_overrides_win(toml_file) -> None:
    env = toml_file("page_size = 25\n") | {"CRMKIT_PAGE_SIZE": "75", "CRMKIT_PLUGINS": "a,b"}
    settings = load_settings(env, page_size=10, plugins=None)
    assert settings.page_size == 10
    assert settings.plugins is None


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_CONFIG", "/nonexistent/crmkit.toml")
    monkeypatch.setenv("CRMKIT_DEFAULT_REGION", "DK")
    assert load_settings().default_region == "DK"
