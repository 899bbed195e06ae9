// polyocr web page: upload a file to POST /v1/read, draw the Document it returns.
// Plain DOM code, no framework or build step. Text from the server is only ever put in the page
// with textContent / setAttribute, never as HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const LANG_NAMES = {
  "en": "English", "zh-Hans": "Chinese (Simplified)", "zh-Hant": "Chinese (Traditional)",
  "ja": "Japanese", "ko": "Korean", "ru": "Russian", "ar": "Arabic", "he": "Hebrew",
};
const SUFFIX = { json: "json", text: "txt", hocr: "hocr.html", alto: "alto.xml", pagexml: "page.xml", pdf: "pdf" };

const state = { file: null, doc: null, busy: false };

function $(sel, root = document) { return root.querySelector(sel); }

function setStatus(message, kind = "") {
  const el = $("#status");
  el.textContent = message;
  el.className = kind;
}

function options() {
  const fields = new FormData();
  const langs = [...document.querySelectorAll("#langs input:checked")].map((i) => i.value);
  if (langs.length) fields.append("lang", langs.join(","));
  fields.append("order", $("#order").value);
  fields.append("orientation", $("#orientation").checked ? "true" : "false");
  fields.append("accurate", $("#accurate").checked ? "true" : "false");
  fields.append("dpi", String($("#dpi").value || 200));
  const pages = $("#page-range").value.trim();
  if (pages) fields.append("pages", pages);
  return fields;
}

async function post(format, extra = {}) {
  const body = options();
  body.append("format", format);
  for (const [k, v] of Object.entries(extra)) body.append(k, v);
  body.append("file", state.file, state.file.name);
  const response = await fetch("/v1/read", { method: "POST", body });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const err = await response.json();
      if (err && err.error) message = `${response.status} ${err.error.code}: ${err.error.message}`;
    } catch (e) { /* not JSON: keep the status line */ }
    const retry = response.headers.get("Retry-After");
    throw new Error(retry ? `${message} (retry in ${retry} s)` : message);
  }
  return response;
}

async function read(file) {
  if (state.busy) return;
  state.busy = true;
  state.file = file;
  state.doc = null;
  $("#result").hidden = true;
  $("#pages").replaceChildren();
  const t0 = performance.now();
  setStatus(`Reading ${file.name} …`, "busy");
  try {
    const response = await post("json", { page_images: "true" });
    const doc = await response.json();
    state.doc = doc;
    render(doc);
    const lines = doc.pages.reduce((n, p) => n + p.blocks.reduce((m, b) => m + b.lines.length, 0), 0);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    setStatus(`${file.name}: ${doc.pages.length} page(s), ${lines} line(s) in ${secs} s`, "done");
    $("#result").hidden = false;
  } catch (err) {
    setStatus(String(err.message || err), "error");
  } finally {
    state.busy = false;
  }
}

function polygonPoints(poly) {
  return poly.map(([x, y]) => `${x},${y}`).join(" ");
}

function render(doc) {
  const pages = $("#pages");
  for (const page of doc.pages) {
    const node = $("#page-template").content.firstElementChild.cloneNode(true);
    $(".page-title", node).textContent =
      `Page ${page.index + 1} · ${page.width}×${page.height}px` + (page.language ? ` · ${page.language}` : "");
    const svg = $(".overlay", node);
    svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
    svg.setAttribute("aria-label", `page ${page.index + 1} with line outlines`);
    if (page.image && page.image.startsWith("data:image/")) {
      const img = document.createElementNS(SVG_NS, "image");
      img.setAttribute("href", page.image);
      img.setAttribute("width", page.width);
      img.setAttribute("height", page.height);
      img.setAttribute("preserveAspectRatio", "none");
      svg.append(img);
    }
    const text = $(".text", node);
    if (!page.blocks.length) {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "No text found on this page.";
      text.append(empty);
    }
    for (const block of page.blocks) {
      const para = document.createElement("div");
      para.className = `block kind-${block.kind}`;
      para.dataset.id = block.id;
      for (const line of block.lines) {
        const poly = document.createElementNS(SVG_NS, "polygon");
        poly.setAttribute("points", polygonPoints(line.polygon));
        poly.setAttribute("class", "line-poly");
        poly.dataset.id = line.id;
        const title = document.createElementNS(SVG_NS, "title");
        title.textContent = line.text;
        poly.append(title);
        svg.append(poly);

        const row = document.createElement("div");
        row.className = "line";
        row.dataset.id = line.id;
        row.tabIndex = 0;
        const span = document.createElement("span");
        span.className = "line-text";
        span.textContent = line.text;
        span.dir = line.direction === "rtl" ? "rtl" : (line.direction === "ltr" ? "ltr" : "auto");
        if (line.language) span.lang = line.language;
        if (line.writing_mode === "vertical-rl") row.classList.add("vertical");
        const meta = document.createElement("span");
        meta.className = "line-meta";
        const conf = Math.round((line.confidence ?? 0) * 100);
        meta.textContent = `${line.language || "?"} · ${conf}%`;
        meta.title = `${LANG_NAMES[line.language] || line.language || "unknown language"}, ` +
          `confidence ${conf}%, ${line.direction}, ${line.writing_mode}`;
        if (conf < 50) meta.classList.add("low");
        row.append(span, meta);
        para.append(row);
        link(row, poly);
      }
      text.append(para);
    }
    pages.append(node);
  }
}

// Hovering (or focusing) a line of text highlights its outline on the page, and the reverse.
function link(row, poly) {
  const on = () => { row.classList.add("hot"); poly.classList.add("hot"); };
  const off = () => { row.classList.remove("hot"); poly.classList.remove("hot"); };
  for (const el of [row, poly]) {
    el.addEventListener("mouseenter", on);
    el.addEventListener("mouseleave", off);
  }
  row.addEventListener("focus", on);
  row.addEventListener("blur", off);
  poly.addEventListener("click", () => row.scrollIntoView({ block: "nearest" }));
}

function baseName() {
  const name = state.file ? state.file.name.replace(/\.[^.]*$/, "") : "page";
  return name.replace(/[^\p{L}\p{N}._-]+/gu, "_").slice(0, 60) || "page";
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function download(format) {
  if (!state.file) return;
  const filename = `${baseName()}.${SUFFIX[format]}`;
  try {
    if (format === "json" && state.doc) {
      // The Document already here, without the embedded preview images.
      const doc = structuredClone(state.doc);
      for (const p of doc.pages) if (p.image.startsWith("data:")) p.image = state.file.name;
      save(new Blob([JSON.stringify(doc, null, 1)], { type: "application/json" }), filename);
      return;
    }
    setStatus(`Preparing ${format} …`, "busy");
    const response = await post(format);
    save(await response.blob(), filename);
    setStatus(`Saved ${filename}`, "done");
  } catch (err) {
    setStatus(String(err.message || err), "error");
  }
}

async function init() {
  const drop = $("#drop");
  const input = $("#file");
  input.addEventListener("change", () => { if (input.files.length) read(input.files[0]); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) read(files[0]);
  });
  for (const button of document.querySelectorAll("#downloads button")) {
    button.addEventListener("click", () => download(button.dataset.format));
  }
  let languages = Object.keys(LANG_NAMES);
  try {
    const info = await (await fetch("/version")).json();
    languages = info.languages || languages;
    $("#version").textContent = `v${info.polyocr}`;
  } catch (e) { /* the page still works with the built-in list */ }
  const box = $("#langs");
  for (const code of languages) {
    const label = document.createElement("label");
    const check = document.createElement("input");
    check.type = "checkbox";
    check.value = code;
    label.append(check, ` ${LANG_NAMES[code] || code}`);
    label.title = code;
    box.append(label);
  }
  try {
    const health = await fetch("/health");
    if (!health.ok) {
      const h = await health.json();
      setStatus(`Server not ready: ${h.error || h.status}`, "error");
    }
  } catch (e) {
    setStatus("Server not reachable", "error");
  }
}

document.addEventListener("DOMContentLoaded", init);
