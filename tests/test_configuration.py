"""The one way all three programs read ``IBLAGH_*`` variables (docs/configuration.md).

Empty means default, booleans take the usual spellings, and a bad value is one line
naming the variable, in the program's own ``ConfigError``: never a traceback, never a
silent default.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_settings import BaseSettings

from crypto.sync_api import MAX_ATTACHMENTS
from journalist_app.config import (
    DEFAULT_SYNC_URL,
    OfficerConfig,
    OfficerSettings,
    passphrase_from_env,
)
from journalist_app.config import ConfigError as OfficerConfigError
from source_app.config import ConfigError as SourceConfigError
from source_app.config import SourceConfig, SourceSettings
from tor.config import MAX_POW_QUEUE, TorConfig, TorSettings
from tor.errors import TorConfigError

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Program:
    """One program's reader, its error, and one variable of each kind to try."""

    name: str
    read: Callable[[Mapping[str, str]], Any]
    settings: type[BaseSettings]
    error: type[Exception]
    boolean: str
    boolean_of: Callable[[Any], bool]
    integer: str
    integer_of: Callable[[Any], int]
    minimum: int
    maximum: int | None


PROGRAMS = [
    Program(
        "public host",
        SourceConfig.from_env,
        SourceSettings,
        SourceConfigError,
        "IBLAGH_HTTPS",
        lambda config: config.https,
        "IBLAGH_MAX_ATTACHMENTS",
        lambda config: config.max_attachments,
        0,
        MAX_ATTACHMENTS,
    ),
    Program(
        "officer host",
        OfficerConfig.from_env,
        OfficerSettings,
        OfficerConfigError,
        "IBLAGH_SYNC_CHECK_ENVELOPES",
        lambda config: config.sync_check_envelopes,
        "IBLAGH_SESSION_MINUTES",
        lambda config: config.session_minutes,
        1,
        None,
    ),
    Program(
        "onion tool",
        TorConfig.from_env,
        TorSettings,
        TorConfigError,
        "IBLAGH_TOR_DISABLE_NETWORK",
        lambda config: config.disable_network,
        "IBLAGH_TOR_POW_QUEUE_RATE",
        lambda config: config.pow.queue_rate,
        1,
        MAX_POW_QUEUE,
    ),
]
BY_NAME = {program.name: program for program in PROGRAMS}
each_program = pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])


def variables(program: Program) -> list[str]:
    prefix = program.settings.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper() for name in program.settings.model_fields]


def refusal(program: Program, environ: Mapping[str, str]) -> str:
    """The message ``environ`` is refused with; fails the test if it is accepted."""
    with pytest.raises(program.error) as refused:
        program.read(environ)
    message = str(refused.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder: relative default data dirs land there, not in the checkout."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@each_program
def test_an_empty_or_blank_variable_means_its_default(program: Program, in_tmp: Path) -> None:
    default = program.read({})
    for variable in variables(program):
        for blank in ("", "  ", "\t"):
            assert program.read({variable: blank}) == default, variable


@each_program
def test_an_empty_data_dir_is_the_default_not_the_current_folder(
    program: Program, in_tmp: Path
) -> None:
    folder = "var/officer" if program.name == "officer host" else "var/source"
    config = program.read({"IBLAGH_DATA_DIR": ""})
    assert config.data_dir == in_tmp.resolve() / folder


@each_program
@EXAMPLES
@given(
    truth=st.booleans(),
    index=st.integers(0, 3),
    case=st.sampled_from([str.lower, str.upper, str.title]),
    padding=st.sampled_from(["", " ", "\t "]),
)
def test_booleans_take_the_usual_spellings(
    program: Program, in_tmp: Path, truth: bool, index: int, case: Any, padding: str
) -> None:
    spelling = (TRUE if truth else FALSE)[index]
    config = program.read({program.boolean: f"{padding}{case(spelling)}{padding}"})
    assert program.boolean_of(config) is truth


def test_https_true_turns_https_on(in_tmp: Path) -> None:
    assert SourceConfig.from_env({"IBLAGH_HTTPS": "true"}).https is True


@each_program
@pytest.mark.parametrize("value", ["maybe", "2", "enabled", "nope", "-1"])
def test_a_bad_boolean_is_one_line_naming_the_variable(
    program: Program, in_tmp: Path, value: str
) -> None:
    message = refusal(program, {program.boolean: value})
    assert message.startswith(program.boolean) and "1 or 0" in message and repr(value) in message


@each_program
@pytest.mark.parametrize("value", ["ten", "1.5", "10k", "0x10", "1e3", "١٠"])
def test_a_bad_integer_is_one_line_naming_the_variable(
    program: Program, in_tmp: Path, value: str
) -> None:
    message = refusal(program, {program.integer: value})
    assert message.startswith(program.integer) and "whole number" in message


@each_program
def test_an_integer_out_of_range_names_the_variable_and_the_bound(
    program: Program, in_tmp: Path
) -> None:
    message = refusal(program, {program.integer: str(program.minimum - 1)})
    assert message.startswith(program.integer) and f"at least {program.minimum}" in message
    if program.maximum is not None:
        message = refusal(program, {program.integer: str(program.maximum + 1)})
        assert message.startswith(program.integer) and f"at most {program.maximum}" in message


@each_program
@EXAMPLES
@given(data=st.data())
def test_an_integer_in_range_is_read_as_written(
    program: Program, in_tmp: Path, data: st.DataObject
) -> None:
    value = data.draw(st.integers(program.minimum, program.maximum or 10**9))
    padding = data.draw(st.sampled_from(["", " ", "\t"]))
    config = program.read({program.integer: f"{padding}{value}{padding}"})
    assert program.integer_of(config) == value


@each_program
@EXAMPLES
@given(data=st.data())
def test_any_value_is_read_or_refused_in_one_line_never_a_traceback(
    program: Program, in_tmp: Path, data: st.DataObject
) -> None:
    variable = data.draw(st.sampled_from([program.boolean, program.integer]))
    value = data.draw(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0")))
    try:
        program.read({variable: value})
    except program.error as refused:
        assert variable in str(refused) and "\n" not in str(refused)


def test_the_dataclass_defaults_are_the_environment_defaults(in_tmp: Path) -> None:
    # Code that builds a config object by hand gets what an empty environment gives.
    officer = OfficerConfig.from_env({})
    assert officer == OfficerConfig(
        data_dir=officer.data_dir, database_url=officer.database_url, sync_url=DEFAULT_SYNC_URL
    )
    assert officer.sync_check_envelopes is True
    tor = TorConfig.from_env({})
    assert tor == TorConfig(data_dir=tor.data_dir)
    source = SourceConfig.from_env({})
    assert source == SourceConfig(
        data_dir=source.data_dir,
        database_url=source.database_url,
        blob_dir=source.blob_dir,
        recipient_set_path=source.recipient_set_path,
        unit_verify_key=source.unit_verify_key,
        secret_key=source.secret_key,
    )


def test_the_public_host_refuses_more_attachments_than_the_protocol_carries(
    in_tmp: Path,
) -> None:
    assert SourceConfig.from_env({"IBLAGH_MAX_ATTACHMENTS": str(MAX_ATTACHMENTS)})
    message = refusal(BY_NAME["public host"], {"IBLAGH_MAX_ATTACHMENTS": str(MAX_ATTACHMENTS + 1)})
    assert message.startswith("IBLAGH_MAX_ATTACHMENTS") and str(MAX_ATTACHMENTS) in message
    config = SourceConfig.from_env({})
    with pytest.raises(SourceConfigError, match="IBLAGH_MAX_ATTACHMENTS"):
        SourceConfig(**{**config.__dict__, "max_attachments": MAX_ATTACHMENTS + 1})


def test_several_mistakes_are_named_on_one_line(in_tmp: Path) -> None:
    message = refusal(
        BY_NAME["officer host"], {"IBLAGH_SESSION_MINUTES": "soon", "IBLAGH_COOKIE_SECURE": "?"}
    )
    assert "IBLAGH_SESSION_MINUTES" in message and "IBLAGH_COOKIE_SECURE" in message


def test_the_process_environment_is_read_only_when_asked(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # from_env(mapping) reads that mapping only; the public host and the onion tool read
    # os.environ when given none.
    monkeypatch.setenv("IBLAGH_MAX_ATTACHMENTS", "3")
    monkeypatch.setenv("IBLAGH_TOR_POW", "off")
    assert SourceConfig.from_env({}).max_attachments == 10
    assert SourceConfig.from_env().max_attachments == 3
    assert TorConfig.from_env({}).pow.enabled is True
    assert TorConfig.from_env().pow.enabled is False


@pytest.mark.parametrize(
    ("value", "read"),
    [(None, ""), ("", ""), ("   ", ""), (" spaces count ", " spaces count ")],
)
def test_a_passphrase_variable_is_read_as_typed_and_blank_means_ask(
    value: str | None, read: str
) -> None:
    environ = {} if value is None else {"IBLAGH_OFFICER_PASSPHRASE": value}
    assert passphrase_from_env("IBLAGH_OFFICER_PASSPHRASE", environ) == read
    assert passphrase_from_env("IBLAGH_NEW_OFFICER_PASSPHRASE", environ) == ""


@pytest.mark.parametrize(
    ("app", "variable"),
    [("source_app:create_app()", "IBLAGH_HTTPS"), ("journalist_app.wsgi:app", "IBLAGH_KDF")],
)
def test_under_gunicorn_a_bad_value_is_one_line_and_the_server_stops(
    tmp_path: Path, app: str, variable: str
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IBLAGH_")}
    environ |= {"IBLAGH_DATA_DIR": str(tmp_path), variable: "maybe"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    result = subprocess.run(
        [str(gunicorn), "--bind", "127.0.0.1:0", "--no-control-socket", app],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith(variable)]
    assert "'maybe'" in line
