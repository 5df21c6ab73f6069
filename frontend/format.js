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

/** The shape of a source's picture as a class: "vertical", "square" or "" (landscape, or not known). */
export function orientation(source) {
  if (!source.width || !source.height) return "";
  if (source.height > source.width) return "vertical";
  return source.height === source.width ? "square" : "";
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
