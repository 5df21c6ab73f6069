"""The use cases, driven with the in-memory adapters."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from kalinsky_adapters.ffmpeg import CodecRules
from kalinsky_adapters.memory import FakeProber, FakeRendering, InMemoryRepo
from kalinsky_core import services
from kalinsky_core.errors import AssemblyNotFound, InvalidClip, NotIndexed, StorageUnavailable
from kalinsky_core.jobs import Leases, LocalWorker, Renderer
from kalinsky_core.model import Assembly, AssemblyStatus, ClipInput, FileIdentity, MediaInfo, Phase, VideoCoding
from kalinsky_core.report import CacheUse, ClipReport, RenderReport

RULES = CodecRules()
INFO = MediaInfo(duration=5.0, width=320, height=240, codec="h264", frame_rate="30", has_audio=True, file_size=10,
                 audio_codec="aac", audio_duration=5.0)
#: what probing now learns of every video
CODED = attrs.evolve(INFO, coding=VideoCoding(codec="h264", profile="High", level=30, pix_fmt="yuv420p",
                                               reorder_depth=2, time_base="1/15360", field_order="progressive",
                                               sample_aspect="1:1"))
FOLDER = {"b.mp4": INFO, "a.MOV": INFO, "bad.mkv": "Invalid data found when processing input", "x.txt": INFO}


async def indexed_repo() -> InMemoryRepo:
    repo = InMemoryRepo()
    await services.reindex(FakeProber(FOLDER), repo)
    return repo


async def test_reindex_sorts_skips_unreadable_and_ignores_other_extensions() -> None:
    repo = InMemoryRepo()
    index = await services.reindex(FakeProber(FOLDER), repo)
    assert [(s.index, s.filename) for s in index.sources] == [(1, "a.MOV"), (2, "b.mp4")]
    assert [(s.filename, s.reason) for s in index.skipped] == [("bad.mkv", "Invalid data found when processing input")]
    assert await services.list_sources(repo) == index.sources


async def test_a_reindex_keeps_what_it_knew_of_files_whose_stat_is_unchanged() -> None:
    def identified(inode: int, mtime_ns: int = 1) -> MediaInfo:
        return attrs.evolve(CODED, identity=FileIdentity(size=10, mtime_ns=mtime_ns, inode=inode, device=1,
                                                         digest=f"digest of {inode}"))

    prober = FakeProber({"a.mp4": identified(1), "b.mp4": identified(2), "c.mp4": identified(3)})
    repo = InMemoryRepo()
    first = await services.reindex(prober, repo)
    assert prober.probed == ["a.mp4", "b.mp4", "c.mp4"]
    assert [s.identity.digest for s in first.sources] == ["digest of 1", "digest of 2", "digest of 3"]

    prober.probed.clear()
    del prober.files["a.mp4"]  # the others move up, keeping what was learnt of them
    prober.files["c.mp4"] = identified(3, mtime_ns=2)  # modified: probed again
    again = await services.reindex(prober, repo)
    assert prober.probed == ["c.mp4"]
    assert [(s.index, s.filename, s.identity.mtime_ns) for s in again.sources] == [(1, "b.mp4", 1), (2, "c.mp4", 2)]
    assert again.sources[0] == attrs.evolve(first.sources[1], index=1)


async def test_a_reindex_probes_again_a_file_indexed_before_audio_codecs_were_recorded() -> None:
    identity = FileIdentity(size=10, mtime_ns=1, inode=1, device=1)
    repo = InMemoryRepo()
    old = attrs.evolve(CODED, identity=identity, audio_codec="", audio_duration=None)
    await services.reindex(FakeProber({"a.mp4": old, "silent.mp4": attrs.evolve(old, has_audio=False)}), repo)
    prober = FakeProber({"a.mp4": attrs.evolve(CODED, identity=identity),
                         "silent.mp4": attrs.evolve(old, has_audio=False)})
    again = await services.reindex(prober, repo)
    assert prober.probed == ["a.mp4"]  # a file without sound lacks nothing
    assert again.sources[0].audio_codec == "aac"


async def test_a_reindex_probes_again_a_file_indexed_before_its_coding_was_recorded() -> None:
    identity = FileIdentity(size=10, mtime_ns=1, inode=1, device=1)
    repo = InMemoryRepo()
    await services.reindex(FakeProber({"a.mkv": attrs.evolve(INFO, identity=identity),
                                       "b.mp4": attrs.evolve(CODED, identity=identity)}), repo)
    prober = FakeProber({"a.mkv": attrs.evolve(CODED, identity=identity),
                         "b.mp4": attrs.evolve(CODED, identity=identity)})
    again = await services.reindex(prober, repo)
    assert prober.probed == ["a.mkv"]  # e.g. Matroska, whose colours were not recorded: probed again
    assert again.sources[0].coding is not None


async def test_a_reindex_probes_again_a_file_indexed_before_its_pixel_aspect_was_recorded() -> None:
    identity = FileIdentity(size=10, mtime_ns=1, inode=1, device=1)
    repo = InMemoryRepo()
    assert CODED.coding is not None
    old = attrs.evolve(CODED, identity=identity, coding=attrs.evolve(CODED.coding, sample_aspect="", field_order=""))
    await services.reindex(FakeProber({"a.mp4": old, "b.mp4": attrs.evolve(CODED, identity=identity)}), repo)
    hdv = attrs.evolve(CODED.coding, sample_aspect="4:3", field_order="tt")
    prober = FakeProber({"a.mp4": attrs.evolve(CODED, identity=identity, coding=hdv),
                         "b.mp4": attrs.evolve(CODED, identity=identity)})
    again = await services.reindex(prober, repo)
    assert prober.probed == ["a.mp4"]  # e.g. anamorphic or interlaced video indexed as square and progressive
    assert again.sources[0].coding == hdv


async def test_an_empty_folder_is_an_index_too() -> None:
    repo = InMemoryRepo()
    with pytest.raises(NotIndexed):
        await services.list_sources(repo)
    await services.reindex(FakeProber({}), repo)
    assert await services.list_sources(repo) == ()


async def test_created_assemblies_get_sequential_ids_and_are_listed_newest_first() -> None:
    repo = await indexed_repo()
    first = await services.create_assembly(repo, RULES, [ClipInput(1)], name="one")
    with pytest.raises(InvalidClip):
        await services.create_assembly(repo, RULES, [ClipInput(1, start=3, end=2)])
    second = await services.create_assembly(repo, RULES, [ClipInput("b.mp4", 1, 2)], preview=False)
    assert (first.id, second.id) == ("asm_001", "asm_002")
    assert [a.id for a in await repo.list()] == ["asm_002", "asm_001"]
    assert first.status is AssemblyStatus.PROCESSING and first.preview is True
    assert await services.get_assembly(repo, "asm_001") == first
    with pytest.raises(AssemblyNotFound):
        await services.get_assembly(repo, "asm_404")


async def test_render_records_done_with_the_output_and_progress() -> None:
    repo = await indexed_repo()
    renderer = FakeRendering.create()
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1, 0, 1), ClipInput(2, 1, 3)])
    done = await services.render_assembly(assembly, repo, renderer.rendering)
    assert done.status is AssemblyStatus.DONE
    assert (done.duration, done.progress, done.eta_seconds) == (pytest.approx(3.0), 1.0, None)
    assert [s.pos for s in renderer.cuts] == [1, 2] and renderer.joined == ["asm_001"]
    stored = await repo.get("asm_001")
    assert stored == done and stored.clips == assembly.clips


async def test_the_report_says_what_the_cache_served_and_how_long_each_step_took() -> None:
    repo = await indexed_repo()
    renderer = FakeRendering.create()

    async def report_of(clips: list[ClipInput]) -> RenderReport:
        assembly = await services.create_assembly(repo, RULES, clips)
        assert (await services.render_assembly(assembly, repo, renderer.rendering)).status is AssemblyStatus.DONE
        return await services.get_report(repo, assembly.id)

    first = await report_of([ClipInput(1, 0, 1), ClipInput(2, 1, 3)])
    assert [(c.cache, c.pieces_cached, c.sound_cached) for c in first.clips] == [
        (CacheUse.MISS, 0, False), (CacheUse.MISS, 0, False)]
    assert (first.result_cached, first.pieces_cached) == (False, 0) and first.pieces == 2
    moved = await report_of([ClipInput(1, 0, 1), ClipInput(2, 1, 2.5)])
    assert [(c.cache, c.pieces_cached, c.pieces_made) for c in moved.clips] == [
        (CacheUse.HIT, 1, 0), (CacheUse.MISS, 0, 1)]
    assert (moved.result_cached, moved.pieces_cached) == (False, 1)
    again = await report_of([ClipInput(1, 0, 1), ClipInput(2, 1, 2.5)])
    assert [c.cache for c in again.clips] == [CacheUse.HIT, CacheUse.HIT] and again.result_cached is True
    for report in (first, moved, again):
        timings = report.timings
        assert timings is not None and timings.total_s >= timings.cut_s + timings.join_s + timings.measure_s >= 0


def test_a_clip_without_cache_figures_says_none_and_one_served_in_part_partial() -> None:
    clip = ClipReport(pos=1, filename="a.mp4", video="smart", frames_planned=90, frames_written=90,
                      frames_copied=72, encoded_at_start=15, encoded_at_end=3, pieces=3)
    assert (clip.cache, clip.pieces_made) == (CacheUse.NONE, 3)
    assert attrs.evolve(clip, pieces_cached=3, sound_cached=False).cache is CacheUse.PARTIAL
    assert attrs.evolve(clip, pieces_cached=0, sound_cached=True).cache is CacheUse.PARTIAL
    assert attrs.evolve(clip, pieces_cached=3, sound_cached=True).cache is CacheUse.HIT
    assert attrs.evolve(clip, pieces_cached=3).cache is CacheUse.HIT  # the sound's fate unknown


@pytest.mark.parametrize("fail_at", [1, 2, 0])
async def test_a_failed_step_marks_the_assembly_failed_and_discards_its_files(fail_at: int) -> None:
    repo = await indexed_repo()
    renderer = FakeRendering.create(fail_at=fail_at)
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1, 0, 1), ClipInput(2, 1, 3)])
    failed = await services.render_assembly(assembly, repo, renderer.rendering)
    assert failed.status is AssemblyStatus.FAILED
    assert failed.error == ("join failed" if fail_at == 0 else f"segment {fail_at} failed")
    assert failed.duration is None
    assert renderer.discarded == ["asm_001", "asm_001"]  # leftovers of an earlier run before, its own files after
    assert await repo.get("asm_001") == failed


async def test_a_source_gone_from_the_index_fails_the_render_with_its_name() -> None:
    repo = await indexed_repo()
    assembly = await services.create_assembly(repo, RULES, [ClipInput("b.mp4")])
    await services.reindex(FakeProber({"a.MOV": INFO}), repo)
    renderer = FakeRendering.create()
    failed = await services.render_assembly(assembly, repo, renderer.rendering)
    assert (failed.status, failed.error) == (AssemblyStatus.FAILED, "Source b.mp4 not found")


async def test_unfinished_assemblies_are_found_oldest_first() -> None:
    repo = await indexed_repo()
    renderer = FakeRendering.create()
    one = await services.create_assembly(repo, RULES, [ClipInput(1)])
    two = await services.create_assembly(repo, RULES, [ClipInput(1)])
    three = await services.create_assembly(repo, RULES, [ClipInput(1)])
    await services.render_assembly(two, repo, renderer.rendering)
    assert [a.id for a in await services.unfinished_assemblies(repo)] == [one.id, three.id]


async def test_a_local_worker_bounds_concurrency_and_takes_the_oldest_first() -> None:
    repo = await indexed_repo()
    running, peak, order = 0, 0, []

    async def render(assembly: Assembly, worker: str) -> Assembly | None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        order.append(assembly.id)
        await asyncio.sleep(0.01)
        running -= 1
        finished = assembly.completed(1.0)
        return finished if await repo.finish(finished, None, worker=worker) else None

    assemblies = [await services.create_assembly(repo, RULES, [ClipInput(1)]) for _ in range(6)]
    worker = LocalWorker(repo, Renderer(repo, render, "here:1"), renders=2, poll=0.01)
    worker.start()
    await asyncio.sleep(0.05)
    await worker.wait_idle()
    await worker.aclose()
    assert peak == 2 and order == [a.id for a in assemblies] and worker.active == []
    assert {a.status for a in await repo.list()} == {AssemblyStatus.DONE}
    assert [a.attempts for a in await repo.list()] == [1] * 6


async def test_closing_a_local_worker_hands_its_renders_back() -> None:
    started = asyncio.Event()
    cancelled = []

    async def render(assembly: Assembly, worker: str) -> Assembly | None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(assembly.id)
            raise
        return None

    repo = await indexed_repo()
    await services.create_assembly(repo, RULES, [ClipInput(1)])
    worker = LocalWorker(repo, Renderer(repo, render, "here:1"), renders=1, poll=0.01)
    worker.start()
    await started.wait()
    assert (await repo.get("asm_001")).worker == "here:1"
    await worker.aclose()
    handed_back = await repo.get("asm_001")
    assert cancelled == ["asm_001"] and worker.active == []
    assert (handed_back.status, handed_back.phase, handed_back.worker) == (
        AssemblyStatus.PROCESSING, Phase.QUEUED, None)
    assert await repo.claimable() == ["asm_001"] and await repo.live_workers(60) == []


class FinishingRepo(InMemoryRepo):
    """A repository whose claims take a while and go through even when their caller stops waiting for them, as the
    SQL repository's do (a database call is never cut off half-way)."""

    def __init__(self) -> None:
        super().__init__()
        self.claiming = asyncio.Event()

    async def claim(self, assembly_id: str, worker: str, lease_s: float) -> Assembly | None:
        async def claim() -> Assembly | None:
            self.claiming.set()
            await asyncio.sleep(0.05)
            return await InMemoryRepo.claim(self, assembly_id, worker, lease_s)

        return await asyncio.shield(asyncio.ensure_future(claim()))


async def test_a_worker_stopped_while_it_claims_hands_the_claim_back() -> None:
    repo = FinishingRepo()
    await services.reindex(FakeProber(FOLDER), repo)
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1)])
    rendered = []

    async def render(claimed: Assembly, worker: str) -> Assembly | None:
        rendered.append(claimed.id)
        return None

    run = asyncio.ensure_future(Renderer(repo, render, "here:1").run(assembly.id))
    await repo.claiming.wait()
    run.cancel()  # the worker stops while its claim is on its way
    with pytest.raises(asyncio.CancelledError):
        await run
    handed_back = await repo.get(assembly.id)
    assert (handed_back.status, handed_back.phase, handed_back.worker, handed_back.attempts) == (
        AssemblyStatus.PROCESSING, Phase.QUEUED, None, 1)
    assert rendered == [] and await repo.claimable() == [assembly.id]  # the next worker takes it at once


async def test_a_render_whose_owner_died_is_taken_over_once_its_lease_runs_out() -> None:
    now = [1000.0]
    repo = InMemoryRepo(clock=lambda: now[0])
    await services.reindex(FakeProber(FOLDER), repo)
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1)])
    leases = Leases(seconds=20, beat=0.01)
    assert await repo.claim(assembly.id, "dead:1", leases.seconds) is not None  # then its process was killed
    fake = FakeRendering.create()
    assert await fake.renderer(repo, "alive:2", leases).run(assembly.id) is None  # the lease is still live
    now[0] += 21
    done = await fake.renderer(repo, "alive:2", leases).run(assembly.id)
    assert (done.status, done.attempts, done.worker, done.phase) == (AssemblyStatus.DONE, 2, None, None)
    assert not await repo.finish(assembly.failed("late"), None, worker="dead:1")  # the dead owner cannot end it


async def test_a_cancel_stops_the_owner_at_its_next_renewal() -> None:
    repo = await indexed_repo()
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1)])
    rendering = asyncio.Event()

    async def render(claimed: Assembly, worker: str) -> Assembly | None:
        rendering.set()
        await asyncio.sleep(60)
        return None

    run = asyncio.ensure_future(Renderer(repo, render, "far:1", Leases(beat=0.01)).run(assembly.id))
    await rendering.wait()
    await repo.save_state((await repo.get(assembly.id)).cancelled())  # another process cancels it
    stopped = await asyncio.wait_for(run, 1)
    assert stopped.status is AssemblyStatus.CANCELLED and stopped.worker is None


async def test_a_render_ending_after_its_cancel_does_not_revive_it() -> None:
    repo = await indexed_repo()
    renderer = FakeRendering.create()
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1)])
    await repo.save_state(assembly.cancelled())
    await services.render_assembly(assembly, repo, renderer.rendering)
    assert (await repo.get(assembly.id)).status is AssemblyStatus.CANCELLED


class FlakyRepo(InMemoryRepo):
    """A repository whose writes of render state fail the first `failures` times, as a full disk would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts: list[AssemblyStatus] = []

    async def save_state(self, assembly: Assembly, *, worker: str | None = None) -> bool:
        self.attempts.append(assembly.status)
        if len(self.attempts) <= self.failures:
            raise StorageUnavailable("database or disk is full")
        return await super().save_state(assembly, worker=worker)


async def test_a_render_whose_records_cannot_be_written_keeps_rendering_and_records_its_end_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "RECORD_RETRY_FIRST_S", 0.001)
    repo = FlakyRepo(failures=4)
    await services.reindex(FakeProber(FOLDER), repo)
    assembly = await services.create_assembly(repo, RULES, [ClipInput(1, 0, 1), ClipInput(2, 1, 3)])
    done = await services.render_assembly(assembly, repo, FakeRendering.create().rendering)
    assert done.status is AssemblyStatus.DONE
    assert await repo.get(assembly.id) == done
    # the first progress save failed: no more progress for a while; then the end, tried until it is stored
    assert repo.attempts == [AssemblyStatus.PROCESSING] + [AssemblyStatus.DONE] * 4
