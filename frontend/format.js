// Labels for people: sizes, progress, reasons, file names. Pure functions: the browser imports them from
// app.js, and `node --test` checks them (tests/frontend/).

/** A render's progress for a label: "42 %" and, while the server has an estimate, "about 12 s left". */
export function progressLabel(progress, etaSeconds) {
  const percent = `${Math.floor(Math.min(Math.max(progress ?? 0, 0), 1) * 100)} %`;
  if (etaSeconds === null || etaSeconds === undefined || !Number.isFinite(etaSeconds)) return percent;
  const eta = Math.max(0, Math.round(etaSeconds));
  const left = eta < 60 ? `${eta} s` : `${Math.floor(eta / 60)} min ${String(eta % 60).padStart(2, "0")} s`;
  return `${percent} · about ${left} left`;
}

/** A file size for people: "812 KB", "12.3 MB", "1.40 GB". */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** A name usable as a download file name, from an assembly's name or id. */
export function downloadName(assembly) {
  const base = String(assembly.name || assembly.id).replace(/[\\/:*?"<>|\u0000-\u001f]+/g, "_").trim() || assembly.id;
  return `${base}${assembly.preview ? "-preview" : ""}.mp4`;
}

/**
 * Why a file was skipped, without the path the server read it from: ffmpeg prefixes its message with
 * "file:/abs/path/name.mp4: ", which only repeats the file name shown beside it.
 */
export function skipReason(filename, reason) {
  const text = String(reason ?? "").trim();
  const prefix = `/${filename}: `;
  const at = text.startsWith("file:") ? text.indexOf(prefix) : -1;
  return at >= 0 ? text.slice(at + prefix.length) : text;
}

/** How wide a source's picture is shown: its width in pixels times their aspect (anamorphic video's differ). */
function shownWidth(source, pixelAspect = source.qc?.pixel_aspect ?? "1:1") {
  const [across, down] = pixelAspect.split(":").map(Number);
  return across > 0 && down > 0 ? Math.round((source.width * across) / down) : source.width;
}

/** The shape of a source's picture as shown, as a class: "vertical", "square" or "" (landscape, or not known). */
export function orientation(source) {
  if (!source.width || !source.height) return "";
  const width = shownWidth(source);
  if (source.height > width) return "vertical";
  return source.height === width ? "square" : "";
}

/** When something happened, for people: "just now", "5 minutes ago", "2 hours ago", then the date. */
export function relativeTime(iso, now = Date.now()) {
  const then = new Date(iso);
  const seconds = (now - then.getTime()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (seconds < 45) return "just now";
  if (seconds < 3600) return format.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86400) return format.format(-Math.round(seconds / 3600), "hour");
  return then.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

/**
 * How the player can show a source: `{ play: true, url }` with the address to play (the source itself, or its
 * browser-playable copy once ready), or `{ play: false, waiting, message }` while that copy is being made
 * (`waiting`: worth asking again) or when there is none.
 */
export function playback(source, mediaUrl) {
  const plays = source.qc ? source.qc.browser_plays : true;
  const proxy = source.proxy ?? { state: "none", progress: 0 };
  if (plays) return { play: true, proxied: false, url: mediaUrl };
  if (proxy.state === "ready") return { play: true, proxied: true, url: `${mediaUrl}?playable=1` };
  const what = `This browser cannot play ${source.filename} (${source.codec}) as it is.`;
  if (proxy.state === "waiting" || proxy.state === "making") {
    const percent = Math.floor(Math.min(Math.max(proxy.progress ?? 0, 0), 1) * 100);
    return { play: false, waiting: true, message: `Preparing a playable copy of this video… ${percent} %` };
  }
  const why = proxy.state === "failed" ? "No playable copy of it could be made." : "Playable copies are turned off.";
  return { play: false, waiting: false, message: `${what} ${why} You can still type In and Out as timecodes.` };
}

const AUDIO_NOTES = {
  missing: ["no audio", "The file has no sound: renders put silence here."],
  short: ["short audio", "The sound ends before the picture: renders fill the rest with silence."],
};

/** The badges of a source's QC: `{label, title, warn}` each, the title a one-line explanation. */
export function qcBadges(source) {
  const qc = source.qc;
  if (!qc) return [];
  const badges = [];
  if (qc.hdr !== "sdr") {
    badges.push({ label: qc.hdr.toUpperCase(), title: `HDR (${qc.hdr === "hlg" ? "HLG" : "PQ"}): previews and the player show it tone-mapped to SDR; clean renders starting with it stay HDR.`, warn: false });
  }
  if (qc.bit_depth && qc.bit_depth !== 8) {
    badges.push({ label: `${qc.bit_depth}-bit`, title: `${qc.bit_depth} bits per sample: clean renders starting with it keep them.`, warn: false });
  }
  if (qc.rotation) {
    badges.push({ label: `rotated ${qc.rotation}°`, title: "Stored sideways with a display rotation (as phones record): shown upright.", warn: false });
  }
  if (qc.pixel_aspect && qc.pixel_aspect !== "1:1") {
    badges.push({ label: "anamorphic", title: `Its pixels are not square (${qc.pixel_aspect}): it is shown ${shownWidth(source, qc.pixel_aspect)}x${source.height}, as renders keep it.`, warn: false });
  }
  if (qc.variable_frame_rate) {
    badges.push({ label: "VFR", title: "Variable frame rate: its frames are re-encoded in clean renders, never copied.", warn: true });
  }
  if (AUDIO_NOTES[qc.audio]) {
    const [label, title] = AUDIO_NOTES[qc.audio];
    badges.push({ label, title, warn: true });
  }
  if (qc.long_gop) {
    badges.push({ label: "long GOP", title: `A copy can start at a keyframe only every ${qc.keyframe_interval.toFixed(1)} s: smart cuts re-encode more frames and take longer.`, warn: true });
  }
  if (!qc.browser_plays) {
    badges.push({ label: "proxy", title: "The browser cannot play this file as it is: the player shows a playable copy (same frames, same times).", warn: false });
  }
  badges.push(
    qc.clean_render === "reencode"
      ? { label: "re-encode", title: "As the first clip of a clean render, its video is encoded again (its coding cannot be copied).", warn: false }
      : { label: "lossless", title: "As the first clip of a clean render, its frames are copied; only those around the cuts are encoded again.", warn: false },
  );
  return badges;
}

/**
 * Whether the browser can be expected to play a finished render: previews always (H.264 8-bit); a clean render
 * is coded like its first clip, so one that starts with HEVC is HEVC, and one that starts with 10-bit H.264 is
 * 10-bit H.264, which browsers here do not decode.
 */
export function renderPlaysInBrowser(assembly, sources) {
  if (assembly.preview) return true;
  const first = (assembly.clips ?? [])[0];
  const source = first ? (sources ?? []).find((item) => item.filename === first.filename) : null;
  return !source || (source.codec !== "hevc" && (source.qc?.bit_depth ?? 8) <= 8);
}

/** What a render the browser cannot play says instead of a black box. */
export const OTHER_PLAYERS =
  "This render keeps its source's coding (HEVC or 10-bit), which this browser cannot play. It plays in other " +
  "players (QuickTime, VLC, phones, TVs): download it.";

/** What a render the browser was expected to play says when it could not, twice: `error` is the player's
 *  MediaError (its code and message), if it gave one. */
export function notPlayedText(error) {
  const reasons = { 1: "loading stopped", 2: "network error", 3: "decoding error", 4: "not readable or not found" };
  const reason = [reasons[error?.code], error?.message].filter(Boolean).join(": ");
  return `This browser could not play this render${reason ? ` (${reason})` : ""}. Other players may: download it.`;
}
