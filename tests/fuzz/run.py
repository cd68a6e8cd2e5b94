"""Run the fuzz targets with atheris (libFuzzer for Python), coverage-guided.

    .venv/bin/python -m tests.fuzz.run                     # every target, 20 s each
    .venv/bin/python -m tests.fuzz.run --seconds 300 --merge   # `make fuzz`: long run,
                                                   # new coverage merged into the corpus
    .venv/bin/python -m tests.fuzz.run --only batch --runs 5000

Each target runs in its own process on a copy of its committed corpus
(tests/fuzz/corpus/NAME), so a short run never edits the repository. A crash leaves its
input under the artefact folder and fails the run; add that input to the corpus once
the parser is fixed. Prints one table: executions, time, rate, corpus growth, crashes.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


@dataclass(frozen=True)
class FuzzRun:
    """What one target's run did."""

    name: str
    executions: int
    seconds: float
    corpus_before: int
    corpus_after: int
    crashed: bool
    output: str


def _child(name: str, libfuzzer_args: list[str]) -> None:
    """Inside the fuzzing process: instrument the parsers, then hand over to libFuzzer."""
    import atheris

    with atheris.instrument_imports(include=["crypto", "tests.fuzz.targets"]):
        from tests.fuzz.targets import find_target

    target = find_target(name)
    atheris.Setup([sys.argv[0], *libfuzzer_args], target.run)
    atheris.Fuzz()


def fuzz_target(
    name: str,
    *,
    seconds: int,
    runs: int | None,
    merge: bool,
    artefacts: Path,
    corpus: Path | None = None,
) -> FuzzRun:
    """Run one target in a child process on a scratch copy of its corpus."""
    committed = corpus or CORPUS / name
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as scratch:
        work = Path(scratch) / "corpus"
        shutil.copytree(committed, work)
        before = sum(1 for _ in work.iterdir())
        artefacts.mkdir(parents=True, exist_ok=True)
        args = [
            f"-max_total_time={seconds}",
            "-timeout=10",
            "-rss_limit_mb=1024",
            "-max_len=16384",
            f"-artifact_prefix={artefacts}/{name}-",
            "-print_final_stats=1",
        ]
        if runs is not None:
            args.append(f"-runs={runs}")
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-m", "tests.fuzz.run", "--child", name, "--", *args, str(work)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=seconds + 120,
        )
        elapsed = time.monotonic() - started
        output = child.stdout + child.stderr
        done = _DONE.search(output)
        stats = re.search(r"stat::number_of_executed_units:\s*(\d+)", output)
        executions = int(stats.group(1)) if stats else int(done.group(1)) if done else 0
        after = sum(1 for _ in work.iterdir())
        if merge and child.returncode == 0:
            for path in work.iterdir():
                if not (committed / path.name).exists():
                    shutil.copy2(path, committed / path.name)
        return FuzzRun(name, executions, elapsed, before, after, child.returncode != 0, output)


def _table(results: list[FuzzRun]) -> str:
    lines = [
        f"{'target':<18} {'executions':>11} {'seconds':>8} {'exec/s':>8} {'corpus':>13} crashes",
    ]
    for r in results:
        rate = r.executions / r.seconds if r.seconds else 0.0
        lines.append(
            f"{r.name:<18} {r.executions:>11,} {r.seconds:>8.1f} {rate:>8.0f} "
            f"{r.corpus_before:>6} -> {r.corpus_after:<4} {int(r.crashed):>2}"
        )
    total = sum(r.executions for r in results)
    lines.append(f"{'total':<18} {total:>11,}  crashes: {sum(r.crashed for r in results)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--child"]:
        name, rest = arguments[1], arguments[2:]
        _child(name, rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    from tests.fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=20, help="per target")
    parser.add_argument("--runs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument("--merge", action="store_true", help="add new inputs to the corpus")
    parser.add_argument(
        "--artefacts", type=Path, default=Path(tempfile.gettempdir()) / "iblagh-fuzz"
    )
    options = parser.parse_args(arguments)
    results = []
    for name in options.only or sorted(TARGETS):
        result = fuzz_target(
            name,
            seconds=options.seconds,
            runs=options.runs,
            merge=options.merge,
            artefacts=options.artefacts,
        )
        results.append(result)
        if result.crashed:
            print(result.output[-4000:], file=sys.stderr)
    print(_table(results))
    return 1 if any(r.crashed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
