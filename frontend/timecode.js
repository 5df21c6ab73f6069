// Frames and timecodes of a source with a constant frame rate. Pure functions: the browser imports them
// from app.js, and `node --test` checks them (tests/frontend/).
//
// The server keeps in a clip every source frame whose time t satisfies start <= t < end, with times taken
// at microsecond precision. Frame k starts at k / fps. So a clip from frame `first` to frame `last`
// (both included) is sent as start = frameStart(first), end = frameStart(last + 1): each rounded *down* to a
// whole microsecond, which keeps every boundary on the right side of its frame whatever the rate.

const EPSILON_FRAMES = 1e-3;

/** A frame rate from the index ("30", "25/1", "30000/1001") as an exact fraction {num, den}. */
export function parseRate(text) {
  const match = /^\s*(\d+)(?:\s*\/\s*(\d+))?\s*$/.exec(String(text ?? ""));
  if (!match) throw new RangeError(`not a frame rate: ${text}`);
  const num = Number(match[1]);
  const den = match[2] === undefined ? 1 : Number(match[2]);
  if (!num || !den) throw new RangeError(`not a frame rate: ${text}`);
  return { num, den };
}

/** Frames per second as a number (29.97002997...). */
export function fps(rate) {
  return rate.num / rate.den;
}

/** A short label: "30 fps", "29.97 fps". */
export function formatRate(rate) {
  const value = fps(rate);
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "");
  return `${shown} fps`;
}

/** How many frames a source of `duration` seconds holds (frames starting before the end). */
export function frameCount(duration, rate) {
  return Math.max(1, Math.ceil(duration * fps(rate) - EPSILON_FRAMES));
}

/** The index of the last frame. */
export function lastFrame(duration, rate) {
  return frameCount(duration, rate) - 1;
}

/** The frame shown at `seconds` (the last frame starting at or before it), within the source. */
export function frameAt(seconds, rate, duration = Infinity) {
  const frame = Math.floor(Math.max(0, seconds) * fps(rate) + EPSILON_FRAMES);
  return Number.isFinite(duration) ? Math.min(frame, lastFrame(duration, rate)) : frame;
}

/** When frame `frame` starts, in seconds, rounded down to a whole microsecond. */
export function frameStart(frame, rate) {
  return Math.floor((frame * rate.den * 1e6) / rate.num) / 1e6;
}

/** Where to seek to show frame `frame`: its middle, so rounding in the player cannot land on a neighbour. */
export function seekTime(frame, rate) {
  return ((frame + 0.5) * rate.den) / rate.num;
}

/** One frame forward (+1) or back (-1) from the frame shown at `seconds`, kept inside the source. */
export function stepFrame(seconds, delta, rate, duration) {
  const target = frameAt(seconds, rate, duration) + delta;
  return Math.min(Math.max(target, 0), lastFrame(duration, rate));
}

/** The request times of a clip holding frames `first`..`last` (both included) of a source. */
export function clipTimes(first, last, rate, duration) {
  const end = last >= lastFrame(duration, rate) ? duration : Math.min(frameStart(last + 1, rate), duration);
  return { start: frameStart(first, rate), end };
}

/** The first and last frame (both included) that a clip [start, end) holds. */
export function clipFrames(start, end, rate, duration) {
  const first = Math.max(0, Math.ceil(start * fps(rate) - EPSILON_FRAMES));
  const stop = Math.ceil(end * fps(rate) - EPSILON_FRAMES);
  return { first, last: Math.min(Math.max(first, stop - 1), lastFrame(duration, rate)) };
}

const pad = (value, width = 2) => String(value).padStart(width, "0");

/** The first frame starting at or after a whole second. */
function firstFrameOfSecond(second, rate) {
  return Math.ceil(second * fps(rate) - EPSILON_FRAMES);
}

/** "HH:MM:SS:FF" of frame `frame`: the clock second it starts in, and its number within that second. */
export function formatTimecode(frame, rate) {
  const whole = Math.floor((frame * rate.den) / rate.num + EPSILON_FRAMES / fps(rate));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return `${pad(hours)}:${pad(minutes)}:${pad(whole % 60)}:${pad(frame - firstFrameOfSecond(whole, rate))}`;
}

/** A length for people: "0.5 s", "12.3 s", "1:02.5", "1:02:03". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const value = Math.max(0, seconds);
  if (value < 10) return `${value.toFixed(2)} s`;
  if (value < 60) return `${value.toFixed(1)} s`;
  const tenths = Math.round(value * 10);
  const hours = Math.floor(tenths / 36000);
  const minutes = Math.floor((tenths % 36000) / 600);
  const secs = (tenths % 600) / 10;
  if (hours) return `${hours}:${pad(minutes)}:${pad(Math.floor(secs))}`;
  return `${minutes}:${secs < 10 ? "0" : ""}${secs.toFixed(1)}`;
}

/**
 * The frame a user typed: a timecode "HH:MM:SS:FF", a clock time "MM:SS" or "HH:MM:SS" (decimals allowed in
 * the seconds), or plain seconds ("12.5", "12.5s"). Null if the text is none of these.
 */
export function parseTimecode(text, rate) {
  const value = String(text ?? "").trim().replace(/\s*s$/i, "");
  if (/^\d+(\.\d+)?$/.test(value)) return frameAt(Number(value), rate);
  const parts = value.split(":");
  if (parts.length < 2 || parts.length > 4) return null;
  if (!parts.every((part, i) => (i === parts.length - 1 ? /^\d+(\.\d+)?$/ : /^\d+$/).test(part))) return null;
  const numbers = parts.map(Number);
  if (parts.length === 4) {
    const [hours, minutes, secs, frames] = numbers;
    if (minutes >= 60 || secs >= 60 || !Number.isInteger(frames) || frames >= Math.ceil(fps(rate))) return null;
    return firstFrameOfSecond(hours * 3600 + minutes * 60 + secs, rate) + frames;
  }
  if (numbers.slice(1).some((part) => part >= 60)) return null;
  return frameAt(numbers.reduce((total, part) => total * 60 + part, 0), rate);
}

/** The rate used when a source's own cannot be read. */
export const FALLBACK_RATE = { num: 30, den: 1 };

/** The frame rate of an indexed source, or 30 fps when its `frame_rate` cannot be read. */
export function sourceRate(source) {
  try {
    return parseRate(source.frame_rate);
  } catch {
    return FALLBACK_RATE;
  }
}
