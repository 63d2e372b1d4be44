// Conversation mode: talk with the bot; see both sides' words live and each turn's latency.

import { ModeView } from "./mode.js";
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
      query: { model: "voxloop" }, session: SESSION, playback: true,
    });
    this.log = this.pane;
    this.empty = document.getElementById("conversation-empty");
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
    if (up) this.listening();
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
    turn = { node, final, partial, meta, text: "", done: false };
    map.set(key, turn);
    this.empty.hidden = true;
    this.log.append(node);
    return turn;
  }

  botTurn(event) {
    const key = event.response_id || (event.response && event.response.id) || event.item_id;
    const turn = this.turn(this.botTurns, key, "bot");
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

  interrupted(turn) {
    if (turn.node.classList.contains("interrupted")) return;
    turn.node.classList.add("interrupted");
    turn.meta.prepend(el("span", { class: "tag", text: "interrupted" }));
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
        else turn.node.remove();
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
