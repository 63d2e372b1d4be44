// One live voice session: the microphone, the speaker and the realtime socket, wired together,
// with the human messages for everything that can go wrong (no mic, no server).

import { AudioIO, base64ToBytes, bytesToBase64 } from "./audio.js";
import { RealtimeClient, realtimeUrl } from "./realtime.js";

export class VoiceSession {
  /**
   * @param {object} opts
   * @param {object} opts.query  URL query of /v1/realtime
   * @param {object} opts.session  the session.update payload
   * @param {boolean} opts.playback  play the server's audio
   * @param {import("./ui.js").Chrome} opts.chrome
   * @param {object} opts.debug  window.voxloop
   * @param {HTMLElement} [opts.meter]  level meter bar
   * @param {(event: object) => void} opts.onEvent
   * @param {(connected: boolean) => void} [opts.onConnection]
   * @param {() => Promise<void>} [opts.onLost]  the mic went away: the view stops the session
   */
  constructor({ query, session, playback, chrome, debug, meter, onEvent, onConnection = () => {}, onLost }) {
    this.onLost = onLost || (() => this.stop());
    this.chrome = chrome;
    this.debug = debug;
    this.meter = meter;
    this.onEvent = onEvent;
    this.onConnection = onConnection;
    this.active = false;
    this.retryTicker = null;
    this.wasOpen = false;
    this.audio = new AudioIO({
      playback,
      onChunk: (pcm, rms) => this.sendChunk(pcm, rms),
      onPlayer: (msg) => this.onPlayer(msg),
    });
    this.client = new RealtimeClient({
      url: realtimeUrl(query),
      session,
      onEvent: (event) => this.dispatch(event),
      onStatus: (status, detail) => this.onStatus(status, detail || {}),
    });
    this.playerListeners = [];
  }

  /** Opens the mic, then the socket. Returns false (and shows why) if the mic cannot be used. */
  async start() {
    this.active = true;
    this.debug.micError = null;
    this.chrome.hideNotice();
    this.chrome.setStatus("Opening the microphone…", "busy");
    this.setState("starting");
    try {
      const info = await this.audio.start();
      this.debug.audioContextRate = info.sampleRate;
      this.audio.onEnded = () => this.micLost();
    } catch (err) {
      if (!this.active || err.code === "aborted") return false; // stopped while starting
      this.active = false;
      this.debug.micError = err.code || "unavailable";
      this.setState("mic-error");
      this.chrome.setStatus("Microphone unavailable", "error");
      this.chrome.showNotice(err.message, { tone: "error" });
      return false;
    }
    if (!this.active) {
      await this.audio.stop();
      return false;
    }
    this.client.connect();
    return true;
  }

  async stop() {
    this.active = false;
    this.stopTicker();
    this.client.close();
    await this.audio.stop();
    if (this.meter) this.meter.style.setProperty("--level", "0");
    this.chrome.hideNotice();
    this.setState("idle");
  }

  setState(state) {
    this.debug.state = state;
    document.body.dataset.state = state;
  }

  async micLost() {
    if (!this.active) return;
    await this.onLost();
    this.chrome.showNotice("The microphone was disconnected. Press the button to start again.");
  }

  sendChunk(pcm, rms) {
    if (this.meter) this.meter.style.setProperty("--level", Math.min(1, rms * 6).toFixed(3));
    if (this.client.sendAudio(bytesToBase64(pcm))) this.debug.stats.audioChunksSent++;
  }

  /** Decodes one base64 PCM16 delta and queues it for playback; returns its sample count. */
  play(base64) {
    let pcm = base64ToBytes(base64);
    if (pcm.byteLength % 2) pcm = pcm.slice(0, pcm.byteLength - 1);
    const samples = pcm.byteLength / 2;
    this.audio.play(pcm);
    return samples;
  }

  clearPlayback() {
    this.audio.clearPlayback();
    this.debug.stats.playbackClears++;
  }

  endPlayback() {
    this.audio.endPlayback();
  }

  onPlayer(msg) {
    const stats = this.debug.stats;
    stats.samplesPlayed = msg.played;
    stats.samplesBuffered = msg.buffered;
    stats.underruns = msg.underruns;
    if (msg.type === "cleared") {
      stats.clearsAcknowledged++;
      stats.samplesFlushed += msg.flushed;
    }
    for (const listener of this.playerListeners) listener(msg);
  }

  dispatch(event) {
    const debug = this.debug;
    debug.stats.eventsReceived++;
    debug.lastEvents.push(event.type);
    if (debug.lastEvents.length > 60) debug.lastEvents.shift();
    if (event.type === "error") {
      const e = event.error || {};
      debug.errors.push({ code: e.code || null, message: e.message || "", type: e.type || null });
      this.chrome.toast(`Server: ${e.message || e.code || "error"}`);
      return;
    }
    this.onEvent(event);
  }

  onStatus(status, detail) {
    const debug = this.debug;
    if (status === "connecting") {
      if (!detail.attempt) this.chrome.setStatus("Connecting to the server…", "busy");
      this.setState(detail.attempt ? "reconnecting" : "connecting");
      return;
    }
    if (status === "open") {
      this.stopTicker();
      if (this.wasOpen) debug.stats.reconnects++;
      this.wasOpen = true;
      debug.everConnected = true;
      debug.connected = true;
      this.chrome.hideNotice();
      this.onConnection(true);
      return;
    }
    if (status === "retrying") {
      debug.connected = false;
      debug.stats.disconnects++;
      this.clearPlayback();
      this.setState("disconnected");
      this.chrome.setStatus("Server disconnected — retrying…", "warn");
      this.onConnection(false);
      this.startTicker(detail);
      return;
    }
    if (status === "closed") {
      debug.connected = false;
      this.stopTicker();
      this.onConnection(false);
    }
  }

  startTicker({ delayMs, reason }) {
    this.stopTicker();
    const due = Date.now() + delayMs;
    const why = reason ? ` (${reason})` : "";
    const render = () => {
      const secs = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      const when = secs > 0 ? `next try in ${secs} s` : "trying now";
      this.chrome.showNotice(`Server disconnected${why} — retrying… ${when}.`, {
        tone: "warn",
        action: "Reconnect now",
        onAction: () => this.client.retryNow(),
      });
    };
    render();
    this.retryTicker = setInterval(render, 1000);
  }

  stopTicker() {
    if (this.retryTicker !== null) clearInterval(this.retryTicker);
    this.retryTicker = null;
  }
}
