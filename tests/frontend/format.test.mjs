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

test("a source's shape comes from its size as shown", () => {
  assert.equal(orientation({ width: 270, height: 480 }), "vertical");
  assert.equal(orientation({ width: 480, height: 480 }), "square");
  assert.equal(orientation({ width: 320, height: 240 }), "");
  // anamorphic: 240x240 pixels of 4:3 are shown 320x240; 360x480 of 3:4 are shown 270x480
  assert.equal(orientation({ width: 240, height: 240, qc: { pixel_aspect: "4:3" } }), "");
  assert.equal(orientation({ width: 360, height: 480, qc: { pixel_aspect: "3:4" } }), "vertical");
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

test("a source the browser plays plays as it is; another waits for its playable copy", async () => {
  const { playback } = await import("../../frontend/format.js");
  const plain = { filename: "a.mp4", codec: "h264", qc: { browser_plays: true }, proxy: { state: "none", progress: 0 } };
  assert.deepEqual(playback(plain, "/m"), { play: true, proxied: false, url: "/m" });
  const hevc = { filename: "c.mov", codec: "hevc", qc: { browser_plays: false }, proxy: { state: "making", progress: 0.404 } };
  assert.deepEqual(playback(hevc, "/m"), { play: false, waiting: true, message: "Preparing a playable copy of this video… 40 %" });
  assert.equal(playback({ ...hevc, proxy: { state: "waiting", progress: 0 } }, "/m").message, "Preparing a playable copy of this video… 0 %");
  assert.deepEqual(playback({ ...hevc, proxy: { state: "ready", progress: 1 } }, "/m"), { play: true, proxied: true, url: "/m?playable=1" });
  const failed = playback({ ...hevc, proxy: { state: "failed", progress: 0 } }, "/m");
  assert.equal(failed.waiting, false);
  assert.match(failed.message, /cannot play c\.mov \(hevc\).*No playable copy/);
  assert.equal(playback({ filename: "old.mp4", codec: "h264" }, "/m").play, true);  // a server without QC
});

test("QC badges say what to know before cutting, each with a one-line explanation", async () => {
  const { qcBadges } = await import("../../frontend/format.js");
  const phone = { qc: { hdr: "hlg", bit_depth: 10, rotation: 90, variable_frame_rate: true, audio: "short",
                        keyframe_interval: 3, long_gop: true, browser_plays: false, clean_render: "reencode" } };
  const badges = qcBadges(phone);
  assert.deepEqual(badges.map((b) => b.label), ["HLG", "10-bit", "rotated 90°", "VFR", "short audio", "long GOP", "proxy", "re-encode"]);
  assert.ok(badges.every((b) => b.title.length > 20 && !b.title.includes("\n")));
  const plain = { qc: { hdr: "sdr", bit_depth: 8, rotation: 0, variable_frame_rate: false, audio: "ok",
                        keyframe_interval: 1, long_gop: false, browser_plays: true, clean_render: "smart" } };
  assert.deepEqual(qcBadges(plain).map((b) => b.label), ["lossless"]);
  assert.deepEqual(qcBadges({ ...plain, qc: { ...plain.qc, pixel_aspect: "1:1" } }).map((b) => b.label), ["lossless"]);
  const hdv = qcBadges({ width: 1440, height: 1080, qc: { ...plain.qc, pixel_aspect: "4:3" } });
  assert.deepEqual(hdv.map((b) => b.label), ["anamorphic", "lossless"]);
  assert.match(hdv[0].title, /not square \(4:3\): it is shown 1920x1080/);
  assert.deepEqual(qcBadges({}), []);
});

test("a clean render that starts with HEVC or 10-bit H.264 is not played in the page", async () => {
  const { renderPlaysInBrowser } = await import("../../frontend/format.js");
  const sources = [{ filename: "iphone.mov", codec: "hevc" }, { filename: "a.mp4", codec: "h264", qc: { bit_depth: 8 } },
                   { filename: "deep.mp4", codec: "h264", qc: { bit_depth: 10 } }];
  const clean = (filename) => ({ preview: false, clips: [{ filename }, { filename: "a.mp4" }] });
  assert.equal(renderPlaysInBrowser(clean("iphone.mov"), sources), false);
  assert.equal(renderPlaysInBrowser(clean("a.mp4"), sources), true);
  assert.equal(renderPlaysInBrowser({ ...clean("iphone.mov"), preview: true }, sources), true);
  assert.equal(renderPlaysInBrowser(clean("gone.mp4"), sources), true);
  assert.equal(renderPlaysInBrowser(clean("deep.mp4"), sources), false);
  assert.equal(renderPlaysInBrowser({ ...clean("deep.mp4"), preview: true }, sources), true);
});

test("a render the browser could not play says why, in one line", async () => {
  const { notPlayedText } = await import("../../frontend/format.js");
  assert.equal(notPlayedText({ code: 4, message: "DEMUXER_ERROR_COULD_NOT_OPEN" }),
               "This browser could not play this render (not readable or not found: DEMUXER_ERROR_COULD_NOT_OPEN). " +
               "Other players may: download it.");
  assert.equal(notPlayedText({ code: 2, message: "" }),
               "This browser could not play this render (network error). Other players may: download it.");
  assert.equal(notPlayedText(null), "This browser could not play this render. Other players may: download it.");
});
