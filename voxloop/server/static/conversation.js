// Conversation mode: talk with the bot; see both sides' words live and each turn's latency.
// The conversation outlives the socket: a reconnect resumes it (resume.js), and the items a
// resumed session announces again fill in what this view does not show yet, in order.

import { Handoff } from "./handoff.js";
import { ModeView } from "./mode.js";
import { resumeStore } from "./resume.js";
import { el } from "./ui.js";

const SESSION = {
  type: "realtime",
  output_modalities: ["audio"],
  audio: {
    input: {
      format: { type: "audio/pcm", rate: 24000 },
      turn_detection: { type: "server_vad", create_response: true, interrupt_response: true },
      transcription: { model: "whisper" },
    },
    output: { format: { type: "audio/pcm", rate: 24000 } },
  },
  voxloop: { events: true }, // opt in to voxloop.metrics (latency figures in the debug pane)
};

export class ConversationView extends ModeView {
  constructor({ chrome, debug }) {
    super({
      chrome, debug, buttonId: "talk", meterId: "talk-meter",
      pane: document.getElementById("conversation-log"),
      labels: ["Start talking", "Stop"], stopped: "Stopped. Press Start talking to continue.",
      query: { model: "voxloop" }, session: SESSION, playback: true, resume: resumeStore,
    });
    this.log = this.pane;
    this.empty = document.getElementById("conversation-empty");
    this.handoff = new Handoff({ store: resumeStore, chrome });
    this.conversationId = null; // the server's session id of what the log shows
    this.resetTurns(this.empty);
    document.getElementById("new-conversation").addEventListener("click", () => this.newConversation());
  }

  resetTurns(origin) {
    this.origin = origin; // replayed items with no item before them go right after this node
    this.items = new Map(); // item_id → turn, both sides: what the view shows
    this.previous = new Map(); // item_id → previous_item_id (conversation.item.added)
    this.userTurns = new Map(); // item_id → turn
    this.botTurns = new Map(); // response_id → turn
    this.cleared = new Set(); // response ids whose audio was flushed
    this.pendingMetrics = new Map();
    this.responseSamples = new Map(); // response_id → audio samples received
  }

  prepare(session) {
    session.playerListeners.push((msg) => this.onPlayer(msg));
  }

  onConnection(up) {
    if (up) {
      this.listening();
      return;
    }
    // The socket went: what was not settled is not part of the conversation. A user turn not
    // transcribed yet goes (the resumed session announces it if the server kept it); a reply
    // cut off keeps what arrived, and takes the server's text if it is announced again.
    for (const [key, turn] of this.userTurns) {
      if (turn.done) continue;
      turn.node.remove();
      this.userTurns.delete(key);
      this.items.delete(key);
    }
    for (const turn of this.botTurns.values()) {
      if (turn.done) continue;
      turn.done = turn.stale = true;
      this.interrupted(turn, "cut off");
    }
  }

  /** Continue the conversation of `token` here (a #resume= link): the log shows its history. */
  async continueWith(token) {
    if (this.session) await this.stop();
    this.clearLog();
    resumeStore.set(token);
    this.handoff.refresh();
    await this.start();
  }

  /** Forget this tab's conversation: an empty log, and the next start is a new conversation. */
  async newConversation() {
    if (this.session) await this.stop();
    resumeStore.clear();
    this.clearLog();
    this.handoff.refresh();
    this.chrome.hideNotice();
    this.chrome.setStatus("Ready — press Start talking.");
  }

  clearLog() {
    for (const node of [...this.log.children]) if (node !== this.empty) node.remove();
    this.empty.hidden = false;
    this.conversationId = null;
    this.resetTurns(this.empty);
  }

  listening() {
    this.session.setState("listening");
    this.chrome.setStatus("Listening — speak any time.", "live");
  }

  onPlayer(msg) {
    if (!this.session || !this.debug.connected) return;
    if (msg.type === "played" && msg.buffered > 0 && this.debug.state !== "bot-speaking") {
      this.session.setState("bot-speaking");
      this.chrome.setStatus("Speaking — talk over it to interrupt.", "live");
    } else if ((msg.type === "idle" || msg.type === "cleared") && this.debug.state === "bot-speaking") {
      this.listening();
    }
  }

  // --- turns -------------------------------------------------------------------------------

  turn(map, key, role) {
    let turn = map.get(key);
    if (turn) return turn;
    const final = el("span", { class: "final" });
    const partial = el("span", { class: "partial" });
    const meta = el("div", { class: "meta" });
    const node = el(
      "li",
      { class: `turn ${role}` },
      el("div", { class: "who", text: role === "user" ? "You" : "voxloop" }),
      el("p", { class: "text" }, final, partial),
      meta,
    );
    turn = { node, final, partial, meta, text: "", done: false, stale: false };
    map.set(key, turn);
    if (role === "user") this.track(turn, key);
    this.empty.hidden = true;
    this.log.append(node);
    return turn;
  }

  track(turn, itemId) {
    if (!itemId || this.items.get(itemId) === turn) return;
    this.items.set(itemId, turn);
    turn.node.dataset.itemId = itemId;
  }

  /** A message item a (resumed) session announces: shown unless the view has it already. */
  showItem(item) {
    if (!item || item.type !== "message" || (item.role !== "user" && item.role !== "assistant")) return;
    const text = (item.content || [])
      .map((part) => part.transcript ?? part.text ?? "")
      .join(" ")
      .trim();
    const known = this.items.get(item.id);
    if (known) {
      if (known.stale && text) {
        known.text = text;
        known.final.textContent = text;
        known.stale = false;
      }
      return;
    }
    if (!text) return;
    const role = item.role === "user" ? "user" : "bot";
    const turn = this.turn(new Map(), item.id, role);
    turn.text = turn.final.textContent = text;
    turn.done = true;
    if (role === "user") this.userTurns.set(item.id, turn);
    this.track(turn, item.id);
    const previous = this.previous.get(item.id);
    const anchor = previous == null ? this.origin : this.items.has(previous) ? this.items.get(previous).node : null;
    if (anchor) anchor.after(turn.node); // else: appended, where turn() put it
    this.debug.replayedItems++;
  }

  /** Each session.created: the log follows this conversation; a different one starts below a line. */
  sessionCreated(session) {
    const id = (session && session.id) || null;
    this.debug.sessionIds.push(id);
    if (this.conversationId && id !== this.conversationId && this.log.querySelector(".turn")) {
      const divider = el("li", { class: "divider", text: "New conversation" });
      this.log.append(divider);
      this.resetTurns(divider);
    }
    this.conversationId = id;
    this.handoff.refresh();
  }

  botTurn(event) {
    const key = event.response_id || (event.response && event.response.id) || event.item_id;
    const turn = this.turn(this.botTurns, key, "bot");
    this.track(turn, event.item_id);
    if (this.pendingMetrics.has(key)) {
      this.showMetrics(turn, this.pendingMetrics.get(key));
      this.pendingMetrics.delete(key);
    }
    return turn;
  }

  finishBot(turn) {
    if (turn.done) return;
    turn.done = true;
    const text = turn.text.trim();
    if (text) this.debug.botTranscripts.push(text);
  }

  interrupted(turn, label = "interrupted") {
    if (turn.node.classList.contains("interrupted")) return;
    turn.node.classList.add("interrupted");
    turn.meta.prepend(el("span", { class: "tag", text: label }));
  }

  showMetrics(turn, m) {
    // A reply may report twice (again after a barge-in, with barge_in_stop_ms): show the latest.
    for (const node of turn.meta.querySelectorAll(".latency, .latency-details")) node.remove();
    const details = [
      ["asr_final_ms", "ASR final"],
      ["llm_first_token_ms", "LLM first token"],
      ["tts_first_chunk_ms", "TTS first chunk"],
      ["barge_in_stop_ms", "barge-in stop"],
    ]
      .filter(([k]) => m[k] != null)
      .map(([k, label]) => `${label} ${Math.round(m[k])} ms`);
    if (m.speculative) details.push("speculative start");
    if (m.voice_to_voice_ms != null) {
      const text = `${Math.round(m.voice_to_voice_ms)} ms voice-to-voice`;
      turn.meta.append(el("span", { class: "latency", title: details.join(" · ") || null, text }));
    }
    for (const detail of details) turn.meta.append(el("span", { class: "latency-details", text: detail }));
  }

  // --- server events -----------------------------------------------------------------------

  onEvent(event) {
    const session = this.session;
    if (!session) return;
    const stats = this.debug.stats;
    switch (event.type) {
      case "session.created":
        this.sessionCreated(event.session);
        break;
      case "conversation.item.added":
        if (event.item) this.previous.set(event.item.id, event.previous_item_id ?? null);
        break;
      case "conversation.item.done":
        this.showItem(event.item);
        break;
      case "input_audio_buffer.speech_started": {
        session.clearPlayback(); // barge-in: never talk over the user
        this.turn(this.userTurns, event.item_id, "user").partial.textContent = "…";
        session.setState("user-speaking");
        this.chrome.setStatus("Hearing you…", "live");
        break;
      }
      case "input_audio_buffer.speech_stopped":
        session.setState("thinking");
        this.chrome.setStatus("Thinking…", "busy");
        break;
      case "conversation.item.input_audio_transcription.delta": {
        const turn = this.turn(this.userTurns, event.item_id, "user");
        if (turn.done) break;
        turn.text += event.delta || "";
        turn.partial.textContent = turn.text || "…";
        break;
      }
      case "conversation.item.input_audio_transcription.completed": {
        const turn = this.turn(this.userTurns, event.item_id, "user");
        const text = (event.transcript || "").trim();
        turn.done = true;
        turn.partial.textContent = "";
        turn.final.textContent = text;
        if (text) this.debug.userTranscripts.push(text);
        else {
          turn.node.remove();
          this.items.delete(event.item_id);
        }
        break;
      }
      case "conversation.item.input_audio_transcription.failed": {
        const turn = this.turn(this.userTurns, event.item_id, "user");
        turn.done = true;
        turn.partial.textContent = "(could not transcribe)";
        break;
      }
      case "response.created":
        session.setState("thinking");
        this.chrome.setStatus("Thinking…", "busy");
        break;
      case "response.output_audio.delta": {
        if (this.cleared.has(event.response_id)) {
          stats.deltasAfterClear++; // the protocol says none follow; never play them
          break;
        }
        const samples = session.play(event.delta || "");
        stats.audioDeltasReceived++;
        stats.audioSamplesReceived += samples;
        this.responseSamples.set(event.response_id, (this.responseSamples.get(event.response_id) || 0) + samples);
        break;
      }
      case "response.output_audio.done":
        if (!this.cleared.has(event.response_id)) session.endPlayback();
        break;
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta": {
        if (this.cleared.has(event.response_id)) break;
        const turn = this.botTurn(event);
        turn.text += event.delta || "";
        turn.final.textContent = turn.text;
        break;
      }
      case "response.output_audio_transcript.done":
      case "response.output_text.done": {
        const turn = this.botTurns.get(event.response_id);
        if (turn && event.transcript != null && !this.cleared.has(event.response_id)) {
          turn.text = event.transcript;
          turn.final.textContent = turn.text;
        }
        if (turn) this.finishBot(turn);
        break;
      }
      case "output_audio_buffer.cleared": {
        session.clearPlayback();
        if (event.response_id) this.cleared.add(event.response_id);
        this.debug.interruptions.push({
          response_id: event.response_id || null,
          samplesReceived: this.responseSamples.get(event.response_id) || 0,
        });
        const turn = this.botTurns.get(event.response_id);
        if (turn) this.interrupted(turn);
        break;
      }
      case "response.done": {
        const response = event.response || {};
        const turn = this.botTurns.get(response.id);
        if (turn) {
          if (response.status === "cancelled") this.interrupted(turn);
          this.finishBot(turn);
        }
        if (response.status === "failed") {
          const err = (response.status_details && response.status_details.error) || {};
          this.chrome.toast(`The reply failed${err.message ? `: ${err.message}` : "."}`);
        }
        if (this.debug.state === "thinking") this.listening();
        break;
      }
      case "voxloop.metrics": {
        const metrics = event.metrics || {};
        this.debug.metrics.push({ response_id: event.response_id, ...metrics });
        const turn = this.botTurns.get(event.response_id);
        if (turn) this.showMetrics(turn, metrics);
        else this.pendingMetrics.set(event.response_id, metrics);
        break;
      }
      default:
        return;
    }
    this.scrollToEnd();
  }
}
