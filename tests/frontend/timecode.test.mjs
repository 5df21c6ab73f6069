import assert from "node:assert/strict";
import { test } from "node:test";

import {
  clipFrames,
  clipTimes,
  formatDuration,
  formatRate,
  formatTimecode,
  frameAt,
  frameCount,
  frameStart,
  lastFrame,
  parseRate,
  parseTimecode,
  seekTime,
  sourceRate,
  stepFrame,
} from "../../frontend/timecode.js";

const NTSC = parseRate("30000/1001");
const THIRTY = parseRate("30");
const PAL = parseRate("25/1");

/** What the server keeps of a clip: frames k with start <= k/fps < end, times taken at whole microseconds. */
function serverFrames(start, end, rate) {
  const us = (seconds) => BigInt(Math.round(seconds * 1e6));
  // ceil(us * num / (den * 1e6)) in exact integer arithmetic
  const ceilFrame = (value) => {
    const numerator = value * BigInt(rate.num);
    const denominator = BigInt(rate.den) * 1000000n;
    return Number((numerator + denominator - 1n) / denominator);
  };
  return [ceilFrame(us(start)), ceilFrame(us(end))];
}

test("frame rates parse as exact fractions and reject nonsense", () => {
  assert.deepEqual(parseRate("30"), { num: 30, den: 1 });
  assert.deepEqual(parseRate("30000/1001"), { num: 30000, den: 1001 });
  assert.deepEqual(parseRate(" 25 / 1 "), { num: 25, den: 1 });
  for (const bad of ["", "abc", "30/0", "0", "-30", "29.97", null]) {
    assert.throws(() => parseRate(bad), RangeError, String(bad));
  }
  assert.equal(formatRate(NTSC), "29.97 fps");
  assert.equal(formatRate(THIRTY), "30 fps");
});

test("frame counts and the last frame follow the duration", () => {
  assert.equal(frameCount(4, THIRTY), 120);
  assert.equal(lastFrame(4, THIRTY), 119);
  assert.equal(frameCount(3, PAL), 75);
  assert.equal(frameCount(3.003, NTSC), 90); // 90 frames of 1001/30000 s
  assert.equal(frameCount(0.01, THIRTY), 1);
});

test("the frame shown at a time is the last one starting at or before it, kept inside the source", () => {
  assert.equal(frameAt(0, THIRTY), 0);
  assert.equal(frameAt(1 / 30 - 1e-9, THIRTY), 1); // float noise just below a boundary still counts
  assert.equal(frameAt(0.05, THIRTY), 1);
  assert.equal(frameAt(4, THIRTY, 4), 119); // the end of the file shows the last frame
  assert.equal(frameAt(-1, THIRTY, 4), 0);
  assert.equal(frameAt(seekTime(1234, NTSC), NTSC), 1234);
});

test("stepping moves exactly one frame and stops at both ends", () => {
  let time = 0;
  for (let expected = 1; expected <= 100; expected += 1) {
    const frame = stepFrame(time, 1, NTSC, 10);
    assert.equal(frame, expected);
    time = seekTime(frame, NTSC);
  }
  assert.equal(stepFrame(seekTime(100, NTSC), -1, NTSC, 10), 99);
  assert.equal(stepFrame(0, -1, THIRTY, 4), 0);
  assert.equal(stepFrame(4, 1, THIRTY, 4), 119);
  assert.equal(stepFrame(seekTime(10, PAL), 25, PAL, 3), 35);
});

test("clip times keep exactly the marked frames on the server, at every rate", () => {
  for (const rate of [THIRTY, PAL, NTSC, parseRate("24000/1001"), parseRate("60000/1001"), parseRate("50")]) {
    const duration = 120;
    const last = lastFrame(duration, rate);
    for (const [first, final] of [[0, 0], [1, 1], [29, 30], [0, last], [1799, 1800], [last - 3, last], [777, 2777]]) {
      const { start, end } = clipTimes(first, final, rate, duration);
      assert.ok(end <= duration, "end within the source");
      assert.deepEqual(serverFrames(start, end, rate), [first, final + 1], `${rate.num}/${rate.den} ${first}-${final}`);
      assert.deepEqual(clipFrames(start, end, rate, duration), { first, last: final });
    }
  }
});

test("a clip to the last frame ends at the source's duration", () => {
  assert.deepEqual(clipTimes(30, 119, THIRTY, 4), { start: 1, end: 4 });
  assert.deepEqual(clipTimes(0, 74, PAL, 3), { start: 0, end: 3 });
});

test("frame starts are rounded down to whole microseconds", () => {
  assert.equal(frameStart(1, THIRTY), 0.033333);
  assert.equal(frameStart(1, NTSC), 0.033366);
  assert.equal(frameStart(30, NTSC), 1.001);
  assert.equal(frameStart(0, NTSC), 0);
});

test("timecodes count frames within each clock second", () => {
  assert.equal(formatTimecode(0, THIRTY), "00:00:00:00");
  assert.equal(formatTimecode(29, THIRTY), "00:00:00:29");
  assert.equal(formatTimecode(30, THIRTY), "00:00:01:00");
  assert.equal(formatTimecode(30 * 3661 + 7, THIRTY), "01:01:01:07");
  assert.equal(formatTimecode(24, PAL), "00:00:00:24");
  assert.equal(formatTimecode(25, PAL), "00:00:01:00");
  assert.equal(formatTimecode(29, NTSC), "00:00:00:29");
  assert.equal(formatTimecode(30, NTSC), "00:00:01:00"); // starts at 1.001 s
  assert.equal(formatTimecode(59, NTSC), "00:00:01:29");
  assert.equal(formatTimecode(60, NTSC), "00:00:02:00");
});

test("typed timecodes, clock times and seconds give frames; a timecode reads back to its frame", () => {
  assert.equal(parseTimecode("00:00:01:15", THIRTY), 45);
  assert.equal(parseTimecode("1.5", THIRTY), 45);
  assert.equal(parseTimecode("1.5s", THIRTY), 45);
  assert.equal(parseTimecode(" 2 s ", PAL), 50);
  assert.equal(parseTimecode("1:02.5", THIRTY), 1875);
  assert.equal(parseTimecode("01:00:00", PAL), 90000);
  for (const rate of [THIRTY, PAL, NTSC]) {
    for (const frame of [0, 1, 29, 30, 59, 60, 1799, 107892, 107999]) {
      assert.equal(parseTimecode(formatTimecode(frame, rate), rate), frame, `${rate.num}/${rate.den} ${frame}`);
    }
  }
  for (const bad of ["", "abc", "1:60", "00:00:01:30", "00:61:00:00", "1.5.2", "-1", "00:00:1.5:00", "1:2:3:4:5"]) {
    assert.equal(parseTimecode(bad, THIRTY), null, bad);
  }
});

test("durations read naturally at every scale", () => {
  assert.equal(formatDuration(0), "0.00 s");
  assert.equal(formatDuration(1 / 30), "0.03 s");
  assert.equal(formatDuration(4), "4.00 s");
  assert.equal(formatDuration(12.34), "12.3 s");
  assert.equal(formatDuration(65.25), "1:05.3");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(null), "–");
  assert.equal(formatDuration(Number.NaN), "–");
});

test("a source's rate falls back to 30 fps when the index's cannot be read", () => {
  assert.deepEqual(sourceRate({ frame_rate: "30000/1001" }), { num: 30000, den: 1001 });
  assert.deepEqual(sourceRate({ frame_rate: "0/0" }), { num: 30, den: 1 });
  assert.deepEqual(sourceRate({}), { num: 30, den: 1 });
});
