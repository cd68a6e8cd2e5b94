"""Write a migration for the models' changes.

``.venv/bin/python -m scripts.new_migration officer|source "what changed"``

Brings a scratch SQLite database to the current head, then lets Alembic's autogenerate
compare it with the models and write ``<app>/migrations/versions/<rev>_<slug>.py``. Read
what it wrote (renames come out as drop + add) and run the migration tests
(tests/test_migrations.py) on both engines before committing it.
"""

import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

APPS = {"officer": "journalist_app.schema", "source": "source_app.schema"}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in APPS:
        print('usage: python -m scripts.new_migration officer|source "what changed"')
        return 2
    schema = importlib.import_module(APPS[argv[0]])
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'scratch.sqlite3'}")
        with engine.begin() as connection:
            config = schema.alembic_config(connection)
            command.upgrade(config, "head")
            script = command.revision(config, message=argv[1], autogenerate=True)
        engine.dispose()
    path = Path(getattr(script, "path", ""))
    # The house style (ruff) on what the template wrote.
    path.write_text("\n".join(line.rstrip() for line in path.read_text().splitlines()) + "\n")
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=False)
    subprocess.run([sys.executable, "-m", "ruff", "check", "-q", "--fix", str(path)], check=False)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
