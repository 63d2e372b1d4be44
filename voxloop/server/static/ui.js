// Small DOM helpers shared by the conversation and dictation views.

/** Creates an element: el("p", {class: "x", text: "hi"}, child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** 65_300 ms → "1:05". */
export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** 3_723_004 ms → "01:02:03,004". */
export function srtTimestamp(ms) {
  const t = Math.max(0, Math.round(ms));
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(Math.floor(t / 3600000))}:${pad(Math.floor(t / 60000) % 60)}:${pad(Math.floor(t / 1000) % 60)},${pad(t % 1000, 3)}`;
}

/** Cues [{start_ms, end_ms, text}] in order → SRT text. Overlaps and empty cues are fixed up. */
export function buildSrt(cues) {
  const out = [];
  let lastEnd = 0;
  for (const cue of cues) {
    const text = (cue.text || "").trim();
    if (!text) continue;
    const start = Math.max(cue.start_ms || 0, lastEnd);
    const end = Math.max(cue.end_ms || 0, start + 500);
    out.push(`${out.length + 1}\n${srtTimestamp(start)} --> ${srtTimestamp(end)}\n${text}\n`);
    lastEnd = end;
  }
  return out.join("\n");
}

/** Copies text; falls back to a hidden textarea + execCommand where the Clipboard API is missing. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      /* permission refused: try the fallback */
    }
  }
  const area = el("textarea", { class: "offscreen", readonly: true, "aria-hidden": "true" });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

export function downloadText(filename, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = el("a", { href: url, download: filename, class: "offscreen" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The page chrome every view talks to: the status line, the notice banner, the toasts. */
export class Chrome {
  constructor() {
    this.status = document.getElementById("status");
    this.notice = document.getElementById("notice");
    this.noticeText = document.getElementById("notice-text");
    this.noticeAction = document.getElementById("notice-action");
    this.toasts = document.getElementById("toasts");
    this.noticeHandler = null;
    this.noticeAction.addEventListener("click", () => this.noticeHandler && this.noticeHandler());
  }

  /** tone: "idle" | "live" | "busy" | "warn" | "error" */
  setStatus(text, tone = "idle") {
    this.status.textContent = text;
    this.status.dataset.tone = tone;
  }

  showNotice(text, { tone = "error", action = null, onAction = null } = {}) {
    this.noticeText.textContent = text;
    this.notice.dataset.tone = tone;
    this.noticeHandler = onAction;
    this.noticeAction.hidden = !action;
    if (action) this.noticeAction.textContent = action;
    this.notice.hidden = false;
  }

  hideNotice() {
    this.notice.hidden = true;
    this.noticeHandler = null;
  }

  /** A short, unobtrusive message that fades away (server `error` events). */
  toast(text, ms = 6000) {
    const item = el("div", { class: "toast", role: "status" }, el("span", { text }));
    const close = el("button", { class: "toast-close", type: "button", "aria-label": "Dismiss", text: "×" });
    close.addEventListener("click", () => item.remove());
    item.append(close);
    this.toasts.append(item);
    while (this.toasts.children.length > 4) this.toasts.firstElementChild.remove();
    setTimeout(() => item.remove(), ms);
  }
}
