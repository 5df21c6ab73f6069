import assert from "node:assert/strict";
import { test } from "node:test";

import {
  downloadName,
  formatSize,
  orientation,
  progressLabel,
  relativeTime,
  skipReason,
} from "../../frontend/format.js";

test("progress shows a whole percentage and, when known, the time left", () => {
  assert.equal(progressLabel(0, null), "0 %");
  assert.equal(progressLabel(0.427, 12.4), "42 % · about 12 s left");
  assert.equal(progressLabel(0.5, 125), "50 % · about 2 min 05 s left");
  assert.equal(progressLabel(1.2, undefined), "100 %");
  assert.equal(progressLabel(-1, -3), "0 % · about 0 s left");
});

test("sizes use decimal units with about three significant digits", () => {
  assert.equal(formatSize(812), "812 B");
  assert.equal(formatSize(46811), "46.8 KB");
  assert.equal(formatSize(4996), "5.00 KB");
  assert.equal(formatSize(12_345_678), "12.3 MB");
  assert.equal(formatSize(1_400_000_000), "1.40 GB");
  assert.equal(formatSize(Number.NaN), "–");
});

test("skip reasons drop the path ffmpeg repeats", () => {
  assert.equal(
    skipReason("broken.mp4", "file:/srv/sources/broken.mp4: Invalid data found when processing input"),
    "Invalid data found when processing input",
  );
  assert.equal(skipReason("x.mp4", "no video stream"), "no video stream");
  assert.equal(skipReason("a b.mov", "file:/s/a b.mov: moov atom not found"), "moov atom not found");
});

test("download names are safe file names", () => {
  assert.equal(downloadName({ id: "asm_001", name: null, preview: false }), "asm_001.mp4");
  assert.equal(downloadName({ id: "asm_002", name: "Cut: 1/2", preview: true }), "Cut_ 1_2-preview.mp4");
});

test("a source's shape comes from its size", () => {
  assert.equal(orientation({ width: 270, height: 480 }), "vertical");
  assert.equal(orientation({ width: 480, height: 480 }), "square");
  assert.equal(orientation({ width: 320, height: 240 }), "");
  assert.equal(orientation({}), "");
});

test("times read as how long ago, then as a date", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  assert.equal(relativeTime("2024-05-01T11:59:30Z", now), "just now");
  const ago = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  assert.equal(relativeTime("2024-05-01T11:55:00Z", now), ago.format(-5, "minute"));
  assert.equal(relativeTime("2024-05-01T09:00:00Z", now), ago.format(-3, "hour"));
  assert.match(relativeTime("2024-03-01T09:00:00Z", now), /2024/);
  assert.equal(relativeTime("not a time", now), "");
});
