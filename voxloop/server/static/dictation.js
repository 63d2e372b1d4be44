// Dictation mode: live transcription into timestamped paragraphs; copy, or download as SRT.

import { ModeView } from "./mode.js";
import { buildSrt, clock, copyText, downloadText, el } from "./ui.js";

const SESSION = {
  type: "transcription",
  audio: {
    input: {
      format: { type: "audio/pcm", rate: 24000 },
      turn_detection: { type: "server_vad" },
      transcription: { model: "whisper" },
    },
  },
};

export class DictationView extends ModeView {
  constructor({ chrome, debug }) {
    super({
      chrome, debug, buttonId: "dictate", meterId: "dictate-meter",
      pane: document.getElementById("dictation-doc"),
      labels: ["Start dictation", "Stop dictation"], stopped: "Dictation stopped.",
      query: { intent: "transcription" }, session: SESSION, playback: false,
    });
    this.doc = this.pane;
    this.empty = document.getElementById("dictation-empty");
    this.copyButton = document.getElementById("dictation-copy");
    this.srtButton = document.getElementById("dictation-srt");
    this.clearButton = document.getElementById("dictation-clear");
    this.items = new Map(); // item_id → paragraph (in arrival order)
    this.offsetMs = 0; // keeps times increasing across reconnects (each session starts at 0)
    this.lastMs = 0;
    this.copyButton.addEventListener("click", () => this.copy());
    this.srtButton.addEventListener("click", () => this.downloadSrt());
    this.clearButton.addEventListener("click", () => this.clear());
    this.updateTools();
  }

  onConnection(up) {
    if (!up) return;
    this.offsetMs = this.lastMs; // a fresh server session counts audio from zero again
    this.listening();
  }

  listening() {
    this.session.setState("listening");
    this.chrome.setStatus("Listening — dictate away.", "live");
  }

  finals() {
    return [...this.items.values()].filter((p) => p.done && p.text);
  }

  updateTools() {
    const has = this.finals().length > 0;
    this.copyButton.disabled = !has;
    this.srtButton.disabled = !has;
    this.clearButton.disabled = this.items.size === 0;
  }

  paragraph(itemId, startMs) {
    let p = this.items.get(itemId);
    if (p) return p;
    const start = startMs != null ? startMs + this.offsetMs : this.lastMs;
    const final = el("span", { class: "final" });
    const partial = el("span", { class: "partial", text: "…" });
    const time = el("time", { class: "stamp", text: clock(start) });
    const node = el("p", { class: "para" }, time, el("span", { class: "words" }, final, partial));
    p = { node, final, partial, time, start_ms: start, end_ms: null, text: "", partialText: "", done: false };
    this.items.set(itemId, p);
    this.empty.hidden = true;
    this.doc.append(node);
    this.updateTools();
    return p;
  }

  onEvent(event) {
    const session = this.session;
    if (!session) return;
    switch (event.type) {
      case "input_audio_buffer.speech_started": {
        this.paragraph(event.item_id, event.audio_start_ms);
        session.setState("user-speaking");
        this.chrome.setStatus("Hearing you…", "live");
        break;
      }
      case "input_audio_buffer.speech_stopped": {
        const p = this.paragraph(event.item_id, null);
        if (event.audio_end_ms != null) {
          p.end_ms = event.audio_end_ms + this.offsetMs;
          this.lastMs = Math.max(this.lastMs, p.end_ms);
        }
        this.listening();
        break;
      }
      case "input_audio_buffer.committed":
        this.paragraph(event.item_id, null);
        break;
      case "conversation.item.input_audio_transcription.delta": {
        const p = this.paragraph(event.item_id, null);
        if (p.done) break;
        p.partialText += event.delta || "";
        p.partial.textContent = p.partialText || "…";
        break;
      }
      case "conversation.item.input_audio_transcription.completed": {
        const p = this.paragraph(event.item_id, null);
        const text = (event.transcript || "").trim();
        p.done = true;
        p.text = text;
        p.partial.textContent = "";
        p.final.textContent = text;
        if (p.end_ms == null) p.end_ms = p.start_ms + Math.max(1000, text.length * 60);
        this.lastMs = Math.max(this.lastMs, p.end_ms);
        if (text) {
          this.debug.dictation.push({ item_id: event.item_id, text, start_ms: p.start_ms, end_ms: p.end_ms });
        } else {
          p.node.remove();
          this.items.delete(event.item_id);
        }
        this.updateTools();
        break;
      }
      case "conversation.item.input_audio_transcription.failed": {
        const p = this.paragraph(event.item_id, null);
        p.done = true;
        p.partial.textContent = "(could not transcribe)";
        p.node.classList.add("failed");
        this.updateTools();
        break;
      }
      default:
        return;
    }
    this.scrollToEnd();
  }

  text() {
    return this.finals()
      .map((p) => p.text)
      .join("\n\n");
  }

  srt() {
    return buildSrt(this.finals());
  }

  async copy() {
    const ok = await copyText(this.text());
    this.flash(this.copyButton, ok ? "Copied!" : "Copy failed");
  }

  downloadSrt() {
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    downloadText(`voxloop-dictation-${stamp}.srt`, this.srt(), "application/x-subrip");
  }

  clear() {
    for (const p of this.items.values()) p.node.remove();
    this.items.clear();
    this.empty.hidden = false;
    this.updateTools();
  }

  flash(button, text) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = text;
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  }
}
