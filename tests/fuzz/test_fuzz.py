"""The fuzz targets in the ordinary suite: the corpus replays, a short coverage-guided run
of each target finds nothing, and the harness does report a crash (issue 9, item 13).

`make fuzz` runs the long form (tests/fuzz/run.py)."""

import hashlib
from pathlib import Path

import pytest

from tests.fuzz.run import fuzz_target
from tests.fuzz.targets import PLANTED, TARGETS, corpus_dir

pytest.importorskip("atheris", reason="atheris (the dev extra) runs the coverage-guided part")

# Enough for libFuzzer to mutate past the seeds on every target; the long run is `make fuzz`.
SECONDS = 3


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_committed_corpus_replays_without_a_crash(name: str) -> None:
    inputs = sorted(corpus_dir(name).iterdir())
    assert inputs, f"tests/fuzz/corpus/{name} is empty: run python -m tests.fuzz.seed"
    for path in inputs:
        TARGETS[name].run(path.read_bytes())


def test_every_seed_is_in_the_corpus() -> None:
    for target in TARGETS.values():
        names = {p.name for p in corpus_dir(target.name).iterdir()}
        for seed in target.seeds():
            assert hashlib.sha1(seed, usedforsecurity=False).hexdigest() in names, target.name


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_coverage_guided_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    result = fuzz_target(
        name, seconds=SECONDS, runs=None, merge=False, artefacts=tmp_path / "crashes"
    )
    assert not result.crashed, result.output[-3000:]
    assert result.executions > 1000, result.output[-2000:]
    assert result.corpus_after >= result.corpus_before
    assert not any((tmp_path / "crashes").iterdir()) if (tmp_path / "crashes").exists() else True


def test_the_harness_reports_a_crash_and_keeps_the_input(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "one").write_bytes(b"not json")
    (seeds / "two").write_bytes(b"[1]")
    result = fuzz_target(
        PLANTED.name,
        seconds=30,
        runs=None,
        merge=False,
        artefacts=tmp_path / "crashes",
        corpus=seeds,
    )
    assert result.crashed
    assert "KeyError" in result.output
    crashes = list((tmp_path / "crashes").iterdir())
    assert crashes and crashes[0].read_bytes().startswith(b"{")
