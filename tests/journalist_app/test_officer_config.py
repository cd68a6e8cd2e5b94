import stat
from pathlib import Path

import pytest

from crypto.keys import WRAP_PARAMS_DEFAULT, WRAP_PARAMS_FAST
from journalist_app.config import ConfigError, OfficerConfig, load_or_create_secret_key


def test_defaults_keep_everything_under_the_data_dir(tmp_path: Path) -> None:
    config = OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path / "data")})
    assert config.database_url == f"sqlite:///{tmp_path}/data/officer.sqlite3"
    assert config.sync_url == "http://127.0.0.1:8081"
    assert config.session_minutes == 30
    assert config.wrap_params == WRAP_PARAMS_DEFAULT
    assert config.blob_dir == tmp_path / "data" / "blobs"


def test_fast_kdf_is_selected_by_name_in_a_test_run(tmp_path: Path) -> None:
    config = OfficerConfig.from_env(
        {"IBLAGH_DATA_DIR": str(tmp_path), "IBLAGH_KDF": "fast", "IBLAGH_TESTING": "1"}
    )
    assert config.wrap_params == WRAP_PARAMS_FAST


@pytest.mark.parametrize("testing", [None, "", "0", "no"])
def test_fast_kdf_is_refused_outside_a_test_run(tmp_path: Path, testing: str | None) -> None:
    environ = {"IBLAGH_DATA_DIR": str(tmp_path), "IBLAGH_KDF": "fast"}
    if testing is not None:
        environ["IBLAGH_TESTING"] = testing
    with pytest.raises(ConfigError, match="IBLAGH_KDF must be 'default'") as refused:
        OfficerConfig.from_env(environ)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IBLAGH_KDF", "weak"),
        ("IBLAGH_SESSION_MINUTES", "0"),
        ("IBLAGH_SESSION_MINUTES", "half an hour"),
        ("IBLAGH_SYNC_URL", "file:///etc/passwd"),
        ("IBLAGH_COOKIE_SECURE", "maybe"),
    ],
)
def test_unusable_values_are_refused_by_name(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path), name: value})


def test_session_secret_is_made_once_and_readable_by_owner_only(tmp_path: Path) -> None:
    config = OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path / "data")})
    first = load_or_create_secret_key(config)
    second = load_or_create_secret_key(config)
    assert first == second and len(first) >= 32
    files = list(config.data_dir.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(config.data_dir.stat().st_mode) == 0o700
