"""Write each target's seed inputs into tests/fuzz/corpus/NAME (run when seeds change).

    .venv/bin/python -m tests.fuzz.seed

File names are the SHA-1 of the content, as libFuzzer names what it finds, so seeding
twice writes nothing new.
"""

import hashlib

from tests.fuzz.targets import TARGETS, corpus_dir


def main() -> None:
    for target in TARGETS.values():
        folder = corpus_dir(target.name)
        folder.mkdir(parents=True, exist_ok=True)
        for seed in target.seeds():
            (folder / hashlib.sha1(seed, usedforsecurity=False).hexdigest()).write_bytes(seed)
        print(f"{target.name}: {sum(1 for _ in folder.iterdir())} inputs")


if __name__ == "__main__":
    main()
