"""Publishing and loading index versions, the indexer's use cases and the search use case, on fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.search.documents import change_for, document_for
from functions.search.logic import Indexer, SearchService
from functions.search.models import Algorithm
from functions.search.replica import ConcurrentWriteError, ReadReplica, WriteReplica
from functions.shared.errors import DependencyUnavailableError, ValidationFailedError
from functions.videos.models import Status, Visibility
from tests.fakes.search import ListCatalogue, MemoryIndexFiles
from tests.search_helpers import video


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def found(
    service: SearchService, text: str, caller: str = "bob", algorithm: Algorithm = Algorithm.TEXT
) -> list[str]:
    return [h.video_id for h in service.search(caller, text, algorithm, 10).results]


@pytest.fixture
def files() -> MemoryIndexFiles:
    return MemoryIndexFiles()


def test_a_published_batch_is_found_by_a_reader(files: MemoryIndexFiles, tmp_path: Path) -> None:
    indexer = Indexer(WriteReplica(files, tmp_path / "writer"))
    assert indexer.apply([change_for("v1", video("Northern lights", video_id="v1"))]) == 1
    service = SearchService(ReadReplica(files, tmp_path / "reader"))
    assert found(service, "northern") == ["v1"]
    assert files.pointer is not None
    assert files.pointer.version == 1


def test_nothing_published_yet_answers_no_results(files: MemoryIndexFiles, tmp_path: Path) -> None:
    assert found(SearchService(ReadReplica(files, tmp_path)), "anything") == []


def test_a_reader_reloads_when_the_pointer_moves_and_only_then(
    files: MemoryIndexFiles, tmp_path: Path
) -> None:
    writer = WriteReplica(files, tmp_path / "writer")
    writer.apply([change_for("v1", video("First", video_id="v1"))])
    clock = Clock()
    reader = ReadReplica(files, tmp_path / "reader", check_every_s=1.0, clock=clock)
    service = SearchService(reader)
    assert found(service, "first") == ["v1"]
    writer.apply([change_for("v2", video("Second", video_id="v2"))])
    reads = files.pointer_reads
    clock.now = 0.5
    assert found(service, "second") == []  # within the check interval: the loaded version answers
    assert files.pointer_reads == reads
    clock.now = 1.0
    files.downloads.clear()
    assert found(service, "second") == ["v2"]
    assert reader.version == 2
    # Only the new segment's files were fetched, not the ones the reader already held.
    assert files.downloads
    assert set(files.downloads).isdisjoint(set(files.blobs) - set(files.pointer.files))


def test_a_reader_keeps_answering_from_its_version_when_the_pointer_is_unreadable(
    files: MemoryIndexFiles, tmp_path: Path
) -> None:
    WriteReplica(files, tmp_path / "writer").apply([change_for("v1", video("Aurora", video_id="v1"))])
    clock = Clock()
    service = SearchService(ReadReplica(files, tmp_path / "reader", check_every_s=1.0, clock=clock))
    assert found(service, "aurora") == ["v1"]

    def down() -> None:
        raise DependencyUnavailableError("S3 is down")

    files.manifest = down  # type: ignore[assignment,method-assign]
    clock.now = 5
    assert found(service, "aurora") == ["v1"]
    with pytest.raises(DependencyUnavailableError):
        SearchService(ReadReplica(files, tmp_path / "cold")).search("bob", "aurora", Algorithm.TEXT, 10)


def test_a_cold_writer_continues_from_the_published_version(files: MemoryIndexFiles, tmp_path: Path) -> None:
    WriteReplica(files, tmp_path / "first").apply([change_for("v1", video("Comet", video_id="v1"))])
    # A new container (nothing in its /tmp) applies the next batch on top of version 1.
    WriteReplica(files, tmp_path / "second").apply([change_for("v2", video("Comet two", video_id="v2"))])
    service = SearchService(ReadReplica(files, tmp_path / "reader"))
    assert sorted(found(service, "comet")) == ["v1", "v2"]


def test_a_second_writer_publishing_meanwhile_fails_the_batch_and_the_retry_applies_on_top(
    files: MemoryIndexFiles, tmp_path: Path
) -> None:
    stream = WriteReplica(files, tmp_path / "stream")
    stream.apply([change_for("v1", video("Meteor", video_id="v1"))])
    rebuild = WriteReplica(files, tmp_path / "rebuild")
    rebuild.apply([change_for("v2", video("Meteor shower", video_id="v2"))])  # publishes version 2
    stream._in_step = lambda: stream._index  # type: ignore[method-assign,assignment,return-value]  # as if it checked before v2
    with pytest.raises(ConcurrentWriteError):
        stream.apply([change_for("v3", video("Meteor three", video_id="v3"))])
    assert files.pointer is not None
    assert files.pointer.version == 2
    del stream._in_step  # the retry: it starts again from what was published
    stream.apply([change_for("v3", video("Meteor three", video_id="v3"))])
    assert sorted(found(SearchService(ReadReplica(files, tmp_path / "reader")), "meteor")) == [
        "v1",
        "v2",
        "v3",
    ]


def test_the_last_change_to_a_video_in_a_batch_wins(files: MemoryIndexFiles, tmp_path: Path) -> None:
    indexer = Indexer(WriteReplica(files, tmp_path / "writer"))
    indexer.apply(
        [
            change_for("v1", video("Draft", video_id="v1")),
            change_for("v1", video("Final cut", video_id="v1", version=2)),
            change_for("v2", video("Gone soon", video_id="v2")),
            change_for("v2", None),
        ]
    )
    service = SearchService(ReadReplica(files, tmp_path / "reader"))
    assert found(service, "final") == ["v1"]
    assert found(service, "draft") == []
    assert found(service, "gone") == []


def test_a_rebuild_gives_the_same_results_as_the_stream(files: MemoryIndexFiles, tmp_path: Path) -> None:
    videos = [
        video("Deep sea creatures", owner="alice", video_id="a1"),
        video("Deep space", owner="alice", visibility=Visibility.PRIVATE, video_id="a2"),
        video("Deep dish pizza", owner="bob", status=Status.PROCESSING, video_id="b1"),
        video("Deep learning", owner="bob", status=Status.DELETING, video_id="b2"),
    ]
    Indexer(WriteReplica(files, tmp_path / "stream")).apply([change_for(v.id, v) for v in videos])
    streamed = {
        c: found(SearchService(ReadReplica(files, tmp_path / f"r1{c}")), "deep", caller=c)
        for c in ("alice", "bob", "carol")
    }
    rebuilt_files = MemoryIndexFiles()
    assert Indexer(WriteReplica(rebuilt_files, tmp_path / "rebuild")).rebuild(ListCatalogue(videos)) == 3
    rebuilt = {
        c: found(SearchService(ReadReplica(rebuilt_files, tmp_path / f"r2{c}")), "deep", caller=c)
        for c in ("alice", "bob", "carol")
    }
    assert rebuilt == streamed
    assert sorted(streamed["bob"]) == ["a1", "b1"]


def test_a_rebuild_drops_what_the_table_no_longer_has(files: MemoryIndexFiles, tmp_path: Path) -> None:
    indexer = Indexer(WriteReplica(files, tmp_path / "writer"))
    indexer.apply([change_for("stale", video("Stale entry", video_id="stale"))])
    indexer.rebuild(ListCatalogue([video("Fresh entry", video_id="fresh")]))
    service = SearchService(ReadReplica(files, tmp_path / "reader"))
    assert found(service, "entry") == ["fresh"]


@pytest.mark.parametrize(
    "text", ["bad\x00query", "tab\tnewline\n", "bell\x07", "zero\u200bwidth", "bidi\u202eflip"]
)
def test_control_characters_are_refused(files: MemoryIndexFiles, tmp_path: Path, text: str) -> None:
    with pytest.raises(ValidationFailedError, match="control characters"):
        SearchService(ReadReplica(files, tmp_path)).search("bob", text, Algorithm.TEXT, 10)


@pytest.mark.parametrize("text", ["!!!", "😀😀", "   ", "'\"--;"])
def test_a_query_without_a_letter_or_digit_is_refused(
    files: MemoryIndexFiles, tmp_path: Path, text: str
) -> None:
    with pytest.raises(ValidationFailedError, match="no words"):
        SearchService(ReadReplica(files, tmp_path)).search("bob", text, Algorithm.TEXT, 10)


def test_emoji_and_quotes_around_words_search_the_words(files: MemoryIndexFiles, tmp_path: Path) -> None:
    Indexer(WriteReplica(files, tmp_path / "w")).apply(
        [change_for("v", video("Rocket launch", video_id="v"))]
    )
    service = SearchService(ReadReplica(files, tmp_path / "r"))
    assert found(service, '🚀 "rocket" launch!') == ["v"]
    assert found(service, "👨\u200d👩\u200d👧 rocket") == [
        "v"
    ]  # an emoji sequence with joiners is not a control
    assert found(service, "rocket' OR '1'='1") == []  # every word must match: "or", "1" do not


def test_files_no_recent_version_names_are_swept_after_their_grace(
    files: MemoryIndexFiles, tmp_path: Path
) -> None:
    writer = WriteReplica(files, tmp_path / "writer", sweep_every_s=0, grace_s=0)
    writer.apply([change_for("v1", video("Aurora", video_id="v1"))])
    first = set(files.pointer.files)  # type: ignore[union-attr]
    writer.replace_all([document_for(video("Borealis", video_id="v2"))])
    second = set(files.pointer.files)  # type: ignore[union-attr]
    assert first <= set(files.blobs)  # the previous version's files stay for readers still loading it
    writer.replace_all([document_for(video("Comet", video_id="v3"))])
    third = set(files.pointer.files)  # type: ignore[union-attr]
    assert first.isdisjoint(second | third)
    assert set(files.blobs) == second | third
    assert found(SearchService(ReadReplica(files, tmp_path / "reader")), "comet") == ["v3"]


def test_young_files_are_kept_whatever_names_them(files: MemoryIndexFiles, tmp_path: Path) -> None:
    writer = WriteReplica(files, tmp_path / "writer", sweep_every_s=0, grace_s=3600)
    writer.apply([change_for("v1", video("Aurora", video_id="v1"))])
    first = set(files.pointer.files)  # type: ignore[union-attr]
    for name in ("Borealis", "Comet"):
        writer.replace_all([document_for(video(name, video_id=name))])
    assert first <= set(files.blobs)  # unreferenced, but possibly a writer's not yet published upload


def test_a_reader_that_cannot_fetch_a_newer_version_answers_from_its_own(
    files: MemoryIndexFiles, tmp_path: Path
) -> None:
    writer = WriteReplica(files, tmp_path / "writer")
    writer.apply([change_for("v1", video("Aurora", video_id="v1"))])
    clock = Clock()
    service = SearchService(ReadReplica(files, tmp_path / "reader", check_every_s=1.0, clock=clock))
    assert found(service, "aurora") == ["v1"]
    writer.apply([change_for("v2", video("Aurora two", video_id="v2"))])
    newest = set(files.pointer.files) - set(files.downloads)  # type: ignore[union-attr]
    swept = {name: files.blobs.pop(name) for name in newest}  # swept while the reader was behind
    clock.now = 5
    assert found(service, "aurora") == ["v1"]
    files.blobs.update(swept)
    clock.now = 10
    assert sorted(found(service, "aurora")) == ["v1", "v2"]
