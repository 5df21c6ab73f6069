// The library section: the indexed sources as cards, the filter, reindexing and its report.

import { api, thumbnailUrl } from "./api.js";
import { announce, h, $, show } from "./dom.js";
import { formatSize, orientation, qcBadges, skipReason } from "./format.js";
import { badgeElement, closeSource, followSource, openSource } from "./player.js";
import { sourceByName, store } from "./state.js";
import { formatDuration, formatRate, sourceRate } from "./timecode.js";

/** The sources whose name contains `filter` (case-insensitive; blank keeps them all). */
export function filterSources(sources, filter) {
  const needle = String(filter ?? "").trim().toLowerCase();
  return sources.filter((source) => source.filename.toLowerCase().includes(needle));
}

/** The headline of a reindex report: "Found 3 videos", and how many files were skipped. */
export function reindexSummary(data) {
  const skipped = Array.isArray(data.skipped) ? data.skipped : [];
  return { found: `Found ${data.count} video${data.count === 1 ? "" : "s"}`, skipped };
}

function libraryMessage(...content) {
  const box = $("library-state");
  box.replaceChildren(...content);
  show(box, content.length > 0);
}

export async function loadSources() {
  const { ok, status, data, error } = await api.listSources();
  if (status === 409) {
    store.set({ indexed: false, sources: [] });
    renderLibrary();
    libraryMessage(
      h("h3", {}, "No index yet"),
      h("p", {}, "Kalinsky lists the videos of its sources folder once it has scanned them. Scan now to see them here."),
      h("button", { type: "button", class: "button primary", onclick: reindex }, "Scan the sources folder"),
    );
    return;
  }
  if (!ok) {
    libraryMessage(
      h("p", { class: "notice notice-error" }, `Could not load the sources: ${error.detail}`),
      h("button", { type: "button", class: "button", onclick: loadSources }, "Try again"),
    );
    return;
  }
  store.set({ indexed: true, sources: Array.isArray(data) ? data : [] });
  renderLibrary();
}

export function renderLibrary() {
  const sources = store.get("sources");
  const indexed = store.get("indexed");
  const filter = $("source-filter").value.trim().toLowerCase();
  const shown = filterSources(sources, filter);
  $("source-count").textContent = indexed ? String(sources.length) : "";
  show($("filter-row"), sources.length > 5);
  $("source-list").replaceChildren(...shown.map(sourceCard));
  if (indexed && sources.length === 0) {
    libraryMessage(
      h("h3", {}, "No videos found"),
      h("p", {}, "Put .mp4, .mov, .mkv or .webm files in the sources folder, then reindex."),
    );
  } else if (indexed && shown.length === 0) {
    libraryMessage(h("p", { class: "muted" }, `No source name contains “${filter}”.`));
  } else if (indexed) {
    libraryMessage();
  }
}

function sourceCard(source) {
  const selected = store.get("open")?.source.index === source.index;
  const thumb = h("img", {
    src: thumbnailUrl(source),
    alt: "",
    loading: "lazy",
    decoding: "async",
    onerror: (event) => event.target.closest(".thumb").classList.add("thumb-missing"),
  });
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: `source-card${selected ? " selected" : ""}`,
        "aria-pressed": selected ? "true" : "false",
        dataset: { index: String(source.index) },
        title: `Open ${source.filename} in the player`,
        onclick: () => openSource(source, { reveal: true }),
      },
      h(
        "span",
        { class: `thumb ${orientation(source)}` },
        thumb,
        h("span", { class: "thumb-fallback", "aria-hidden": "true" }, "No preview"),
        h("span", { class: "badge duration" }, formatDuration(source.duration)),
      ),
      h("span", { class: "source-name" }, source.filename),
      h(
        "span",
        { class: "source-meta" },
        h("span", {}, source.resolution.replace("x", "×")),
        h("span", {}, source.codec),
        h("span", {}, formatRate(sourceRate(source))),
        h("span", {}, formatSize(source.file_size)),
        source.has_audio === false && !source.qc ? h("span", { class: "muted" }, "no audio") : null,
        ...qcBadges(source).map(badgeElement),
      ),
    ),
  );
}

function reindexReport(data) {
  const { found, skipped } = reindexSummary(data);
  const report = $("reindex-report");
  report.className = `report${skipped.length ? " report-warn" : ""}`;
  report.replaceChildren(
    h(
      "div",
      { class: "report-head" },
      h("p", {}, h("strong", {}, found), skipped.length ? `, skipped ${skipped.length}:` : "."),
      h("button", { type: "button", class: "button subtle small", onclick: () => show(report, false) }, "Dismiss"),
    ),
    skipped.length
      ? h(
          "ul",
          { class: "skipped" },
          skipped.map((item) =>
            h(
              "li",
              {},
              h("span", { class: "skipped-name" }, item.filename),
              h("span", {}, skipReason(item.filename, item.reason)),
            ),
          ),
        )
      : null,
  );
  show(report, true);
  announce(`${found}${skipped.length ? `, skipped ${skipped.length}` : ""}.`);
}

async function reindex() {
  const button = $("reindex");
  button.disabled = true;
  button.textContent = "Scanning…";
  try {
    const { ok, data, error } = await api.reindex();
    if (!ok) {
      const report = $("reindex-report");
      report.className = "report report-error";
      report.replaceChildren(h("p", {}, `Reindex failed: ${error.detail}`));
      show(report, true);
      return;
    }
    reindexReport(data);
    await loadSources();
    const open = store.get("open");
    if (open) {
      // Numbers may have moved: follow the open file by its name, or close it if it is gone.
      const again = sourceByName(store.get("sources"), open.source.filename);
      if (!again) closeSource();
      else followSource(again);
    }
  } finally {
    button.disabled = false;
    button.textContent = "Reindex";
  }
}

export function startLibrary() {
  $("reindex").addEventListener("click", reindex);
  $("source-filter").addEventListener("input", renderLibrary);
  // The card of the source in the player shows as selected.
  store.subscribe("open", (now, before) => {
    if (now.open?.source !== before.open?.source) renderLibrary();
  });
  loadSources();
}
