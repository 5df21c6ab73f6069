import assert from "node:assert/strict";
import { test } from "node:test";

import {
  bodyChange,
  cacheSummary,
  canDelete,
  clipCacheText,
  deleteQuestion,
  displayName,
  failureSummary,
  FULL_REFRESH_MS,
  justFinished,
  mergeNewestFirst,
  metaText,
  phaseText,
  outcomeText,
  percentDone,
  joinRow,
  reportRow,
  reportSummary,
  pollDelay,
  pollKind,
  POLL_BUSY_MS,
  POLL_IDLE_MS,
  RENDERS_SHOWN,
  runningCount,
  sameRunning,
  statusLabel,
} from "../../frontend/renders.js";

const processing = { id: "r1", status: "processing", progress: 0.4 };
const done = { id: "r1", status: "done", progress: 1 };

test("polling is quick while something renders and slow otherwise or after an error", () => {
  assert.equal(POLL_BUSY_MS, 1000);
  assert.equal(POLL_IDLE_MS, 10000);
  assert.equal(pollDelay(true, 2), POLL_BUSY_MS);
  assert.equal(pollDelay(true, 0), POLL_IDLE_MS);
  assert.equal(pollDelay(false, 2), POLL_IDLE_MS);
});

test("running renders are counted", () => {
  assert.equal(runningCount([processing, done, { status: "processing" }]), 2);
  assert.equal(runningCount([]), 0);
});

test("statuses and outcomes read as words", () => {
  assert.deepEqual(["processing", "done", "failed", "cancelled"].map(statusLabel),
    ["Rendering", "Done", "Failed", "Cancelled"]);
  assert.equal(statusLabel("queued"), "queued");
  assert.deepEqual(["done", "failed", "cancelled"].map(outcomeText), ["is done", "failed", "was cancelled"]);
  assert.equal(displayName({ id: "r1", name: "" }), "r1");
  assert.equal(displayName({ id: "r1", name: "Cut" }), "Cut");
});

test("progress is a whole percentage", () => {
  assert.equal(percentDone(0.427), 43);
  assert.equal(percentDone(null), 0);
  assert.equal(percentDone(1), 100);
});

test("the meta line names the mode and, once known, the length", () => {
  assert.equal(metaText({ preview: true, duration: null }), "Preview");
  assert.equal(metaText({ preview: false, duration: 2 }), "Clean · 2.00 s");
  assert.equal(metaText({ preview: false }), "Clean");
  assert.equal(phaseText({ status: "processing", phase: "queued", worker: null, attempts: 0 }), "Waiting for a worker");
  assert.equal(phaseText({ status: "processing", phase: "rendering", worker: "box:42", attempts: 1 }), "Cutting on box:42");
  assert.equal(
    phaseText({ status: "processing", phase: "joining", worker: "box:7", attempts: 2 }), "Joining on box:7 · attempt 2");
  assert.equal(phaseText({ status: "done", phase: null, worker: null, attempts: 1 }), "");
});

test("a failure shows its first line, the rest folded", () => {
  assert.deepEqual(failureSummary("ffmpeg failed"), { text: "ffmpeg failed", first: "ffmpeg failed", folded: false });
  assert.deepEqual(failureSummary("ffmpeg failed\nline 2"), {
    text: "ffmpeg failed\nline 2", first: "ffmpeg failed", folded: true,
  });
  const long = failureSummary("x".repeat(300));
  assert.equal(long.first, `${"x".repeat(240)}…`);
  assert.equal(long.folded, true);
  assert.equal(failureSummary(null).first, "The render failed.");
});

test("a card's body follows progress, and is rebuilt only when the outcome is new", () => {
  assert.equal(bodyChange(null, processing, false), "progress");
  assert.equal(bodyChange(processing, processing, true), "progress");
  assert.equal(bodyChange(processing, done, true), "result");
  assert.equal(bodyChange(null, done, false), "result");
  assert.equal(bodyChange(done, done, true), null, "a playing result is left alone");
  assert.equal(bodyChange(done, done, false), "result");
});

test("only a render seen running has just finished", () => {
  assert.equal(justFinished(processing, done), true);
  assert.equal(justFinished(null, done), false, "found finished on the first look");
  assert.equal(justFinished(done, done), false);
  assert.equal(justFinished(processing, processing), false);
});

test("only finished renders can be deleted, after a question naming them", () => {
  assert.equal(canDelete(processing), false);
  assert.equal(canDelete(done), true);
  assert.equal(canDelete({ status: "failed" }), true);
  assert.equal(canDelete({ status: "cancelled" }), true);
  assert.equal(
    deleteQuestion({ id: "asm_004", name: "Take two", status: "done" }),
    'Delete the render "Take two" (asm_004) and its video file? This cannot be undone.',
  );
  assert.equal(
    deleteQuestion({ id: "asm_005", name: null, status: "failed" }),
    "Delete the render asm_005? This cannot be undone.",
  );
});

test("the page of renders and those in progress merge newest first, each once", () => {
  const page = [{ id: "asm_1000", status: "done" }, { id: "asm_999", status: "processing", progress: 0.1 }];
  const processing = [{ id: "asm_999", status: "processing", progress: 0.5 }, { id: "asm_012", status: "processing" }];
  const merged = mergeNewestFirst(page, processing);
  assert.deepEqual(merged.map((a) => a.id), ["asm_1000", "asm_999", "asm_012"]);
  assert.equal(merged[1].progress, 0.1, "the page's copy wins: both are fresh");
  assert.equal(RENDERS_SHOWN, 20);
});

test("while something renders only the renders in progress are polled, the page now and then", () => {
  assert.equal(pollKind([], 0), "full");
  assert.equal(pollKind(["asm_001"], 1000), "processing");
  assert.equal(pollKind(["asm_001"], FULL_REFRESH_MS), "full");
  assert.ok(sameRunning(["asm_001", "asm_002"], [{ id: "asm_002" }, { id: "asm_001" }]));
  assert.ok(!sameRunning(["asm_001", "asm_002"], [{ id: "asm_002" }]), "one has ended: fetch the page");
  assert.ok(!sameRunning(["asm_001"], [{ id: "asm_001" }, { id: "asm_003" }]), "one has started elsewhere");
});

test("a render's report reads as one line and a row per clip", () => {
  const report = {
    clips: [
      { pos: 1, filename: "a.mp4", video: "smart", frames_planned: 90, frames_written: 90, encoded_at_start: 15, encoded_at_end: 0 },
      { pos: 2, filename: "b.mov", video: "reencode", frames_planned: 24, frames_written: 24, encoded_at_start: 24, encoded_at_end: 0 },
      { pos: 3, filename: "a.mp4", video: "smart", frames_planned: 30, frames_written: 29, encoded_at_start: 3, encoded_at_end: 1 },
    ],
    joins: [
      { pos: 2, at: 3, av_offset_ms: 0.4, decode_errors: [] },
      { pos: 3, at: 3.8, av_offset_ms: -1.25, decode_errors: [] },
    ],
    largest_offset_ms: -1.25,
  };
  assert.equal(
    reportSummary(report),
    "3 clips (2 smart-cut, 1 re-encoded) · 143 of 144 frames written · A/V within 1.3 ms at 2 joins" +
      " · all joins decode cleanly",
  );
  assert.deepEqual(joinRow(report.joins[1]), ["3", "3.800 s", "-1.3 ms", "clean"]);
  assert.deepEqual(reportRow(report.clips[0]), ["1", "a.mp4", "smart-cut", "90 / 90", "15 + 0", "–"]);
  const one = { clips: [report.clips[1]], joins: [], largest_offset_ms: 0 };
  assert.equal(reportSummary(one), "1 clip (1 re-encoded) · all 24 frames written · no joins");
});

test("the report tells what the cache served and how long the render took", () => {
  const clip = (cache, pieces, pieces_cached, sound_cached) => ({ cache, pieces, pieces_cached, sound_cached });
  const clips = [
    clip("hit", 3, 3, true), clip("miss", 1, 0, false), clip("hit", 1, 1, true), clip("partial", 3, 2, true),
    clip("hit", 2, 2, true), clip("miss", 3, 0, false), clip("partial", 1, 1, false), clip("miss", 1, 0, false),
  ];
  const timings = { cut_s: 1.234, join_s: 0.36, measure_s: 0.05, total_s: 1.75 };
  assert.equal(
    cacheSummary({ clips, result_cached: false, timings }),
    "3 of 8 clips from the cache, 2 in part · cut 1.2 s, join 0.4 s, 1.8 s in all",
  );
  assert.equal(
    cacheSummary({ clips: clips.slice(1, 2), result_cached: false, timings: null }), "0 of 1 clip from the cache");
  assert.equal(
    cacheSummary({ clips: clips.slice(0, 1), result_cached: true, timings: { cut_s: 0.01, join_s: 0, total_s: 0.09 } }),
    "the result from the cache · cut 0.0 s, join 0.0 s, 0.1 s in all",
  );
  const uncached = [clip("none", 2, null, null)];
  const long = { cut_s: 250.4, join_s: 12, total_s: 270 };
  assert.equal(cacheSummary({ clips: uncached, result_cached: null, timings: long }), "cut 250 s, join 12.0 s, 270 s in all");
  assert.equal(cacheSummary({ clips: [{ pos: 1 }], joins: [] }), "", "a report from before: nothing to say");

  assert.deepEqual(clips.map(clipCacheText), [
    "cached", "made now", "cached", "2 of 3 pieces and the sound cached", "cached", "made now", "1 of 1 piece cached",
    "made now",
  ]);
  assert.equal(clipCacheText(uncached[0]), "–");
  assert.equal(clipCacheText({}), "–");
});

test("a report says which joins do not decode cleanly, and what the decoder said", () => {
  const clip = { pos: 1, filename: "a.mp4", video: "copy", frames_planned: 30, frames_written: 30, encoded_at_start: 0, encoded_at_end: 0 };
  const broken = ["h264: no frame!", "missing picture in access unit with size 60"];
  const joins = [
    { pos: 2, at: 1, av_offset_ms: 0, decode_errors: broken },
    { pos: 3, at: 2, av_offset_ms: 0, decode_errors: [] },
    { pos: 4, at: 3, av_offset_ms: 0, decode_errors: ["aac: Input buffer exhausted before END element found"] },
  ];
  const report = { clips: [1, 2, 3, 4].map((pos) => ({ ...clip, pos })), joins, largest_offset_ms: 0 };
  assert.equal(
    reportSummary(report),
    "4 clips (4 copied) · all 120 frames written · A/V within 0.0 ms at 3 joins · 2 joins with decode errors",
  );
  assert.equal(reportSummary({ ...report, joins: joins.slice(0, 1) }).split(" · ").at(-1), "1 join with decode errors");
  assert.deepEqual(joinRow(joins[0]), ["2", "1.000 s", "0.0 ms", "h264: no frame!; missing picture in access unit with size 60"]);
  // a report stored before joins were decoded has no messages: nothing was found
  assert.equal(joinRow({ pos: 2, at: 1, av_offset_ms: 0 })[3], "clean");
});
