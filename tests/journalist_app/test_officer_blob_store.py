import pytest

from journalist_app.sync.blob_store import LocalBlobStore

SUBMISSION = "0123456789abcdef0123456789abcdef"


def test_a_blob_appears_only_when_its_writer_finishes(tmp_path) -> None:
    store = LocalBlobStore(tmp_path)
    relative = store.relative_path(SUBMISSION, "body")
    with pytest.raises(RuntimeError), store.writer(relative) as handle:
        handle.write(b"half of it")
        raise RuntimeError("connection lost")
    assert list(tmp_path.rglob("*.*")) == [] and not (tmp_path / relative).exists()

    with store.writer(relative) as handle:
        handle.write(b"all of it")
    assert (tmp_path / relative).read_bytes() == b"all of it"
    assert [p.name for p in (tmp_path / "blobs" / SUBMISSION).iterdir()] == ["body"]


@pytest.mark.parametrize(
    ("submission", "name"),
    [("../" + SUBMISSION[3:], "body"), (SUBMISSION, "../../secret"), (SUBMISSION.upper(), "body")],
)
def test_paths_are_built_only_from_well_formed_ids_and_names(tmp_path, submission, name) -> None:
    with pytest.raises(ValueError):
        LocalBlobStore(tmp_path).relative_path(submission, name)


def test_a_stored_path_cannot_point_outside_the_blob_folder(tmp_path) -> None:
    with pytest.raises(ValueError):
        LocalBlobStore(tmp_path).open("blobs/../officer.sqlite3")


def test_a_killed_writers_temporary_file_is_discarded_a_live_writers_is_kept(tmp_path) -> None:
    store = LocalBlobStore(tmp_path)
    folder = tmp_path / "blobs" / SUBMISSION
    folder.mkdir(parents=True)
    # What a SIGKILLed writer leaves: a temporary file nobody holds a lock on.
    (folder / ".incoming-dead1234").write_bytes(b"half a blob")
    (folder / "attachment-1").write_bytes(b"a finished blob stays")

    with store.writer(store.relative_path(SUBMISSION, "body")) as handle:
        handle.write(b"being written")
        assert store.discard_incomplete(SUBMISSION) == 1
        [live] = [p for p in folder.iterdir() if p.name.startswith(".incoming-")]
        assert live.exists(), "the live writer keeps its file"
    assert sorted(p.name for p in folder.iterdir()) == ["attachment-1", "body"]
    assert (folder / "body").read_bytes() == b"being written"
    assert store.discard_incomplete(SUBMISSION) == 0
    assert store.discard_incomplete("f" * 32) == 0, "no folder, nothing to do"
    with pytest.raises(ValueError):
        store.discard_incomplete("../" + SUBMISSION[3:])
