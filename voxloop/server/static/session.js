// One live voice session: the microphone, the speaker and the realtime socket, wired together,
// with the human messages for everything that can go wrong (no mic, no server).

import { AudioIO, base64ToBytes, bytesToBase64 } from "./audio.js";
import { RealtimeClient } from "./realtime.js";

// Server errors that end or restart the connection: announced by a notice, not a toast.
const CONNECTION_ERRORS = new Set(["session_taken_over", "invalid_resume_token"]);
const TAKEN_OVER = "This conversation continued in another tab or device. Press Start talking to continue it here.";
const RESUME_FAILED =
  "The earlier conversation could not be continued (its link is invalid, expired or revoked). A new conversation has started.";
const LOCKED = "The browser holds sound and the microphone back until you click the page.";
const UNLOCK_EVENTS = ["pointerdown", "keydown"];

export class VoiceSession {
  /**
   * @param {object} opts
   * @param {object} opts.query  URL query of /v1/realtime
   * @param {object} opts.session  the session.update payload
   * @param {object|null} [opts.resume]  the tab's resume token store (resume.js): continue the conversation
   * @param {boolean} opts.playback  play the server's audio
   * @param {import("./ui.js").Chrome} opts.chrome
   * @param {object} opts.debug  window.voxloop
   * @param {HTMLElement} [opts.meter]  level meter bar
   * @param {(event: object) => void} opts.onEvent
   * @param {(connected: boolean) => void} [opts.onConnection]
   * @param {() => Promise<void>} [opts.onLost]  the mic went away: the view stops the session
   */
  constructor({ query, session, resume = null, playback, chrome, debug, meter, onEvent, onConnection = () => {}, onLost }) {
    this.onLost = onLost || (() => this.stop());
    this.chrome = chrome;
    this.debug = debug;
    this.meter = meter;
    this.onEvent = onEvent;
    this.onConnection = onConnection;
    this.active = false;
    this.retryTicker = null;
    this.wasOpen = false;
    this.stickyNotice = null; // shown while this connection lasts (why it is a new conversation)
    this.unlockOnGesture = () => this.audio.unlock();
    this.audio = new AudioIO({
      playback,
      onChunk: (pcm, rms) => this.sendChunk(pcm, rms),
      onPlayer: (msg) => this.onPlayer(msg),
    });
    this.client = new RealtimeClient({
      query,
      session,
      resume,
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
      this.audio.onLockChange = () => this.lockChanged();
      this.lockChanged();
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
    this.stickyNotice = null;
    this.listenForGesture(false);
    this.stopTicker();
    this.client.close();
    await this.audio.stop();
    if (this.meter) this.meter.style.setProperty("--level", "0");
    this.chrome.hideNotice();
    this.setState("idle");
  }

  /** Opened without a user gesture (a #resume= link), the audio waits for the first click. */
  lockChanged() {
    const locked = this.audio.locked;
    this.debug.audioLocked = locked;
    this.listenForGesture(locked);
    if (!locked && this.debug.connected) this.onConnection(true); // listening now, for real
    if (this.debug.connected) this.showNotices();
  }

  listenForGesture(on) {
    for (const type of UNLOCK_EVENTS) {
      if (on) document.addEventListener(type, this.unlockOnGesture, { capture: true });
      else document.removeEventListener(type, this.unlockOnGesture, { capture: true });
    }
  }

  /** The notice while connected: why this is a new conversation, and whether audio waits. */
  showNotices() {
    const locked = this.audio.locked;
    if (locked) {
      this.setState("audio-locked");
      this.chrome.setStatus("Connected — turn on sound and the microphone to talk.", "warn");
    }
    const text = [this.stickyNotice, locked ? LOCKED : null].filter(Boolean).join(" ");
    if (!text) this.chrome.hideNotice();
    else if (locked) {
      this.chrome.showNotice(text, { tone: "warn", action: "Turn on sound and microphone", onAction: this.unlockOnGesture });
    } else this.chrome.showNotice(text, { tone: "warn" });
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

  /** A newer connection continued the conversation: stop here (mic off), say so, do not retry. */
  async takenOver() {
    if (!this.active) return;
    this.debug.takenOver = true;
    await this.onLost();
    this.setState("taken-over");
    this.chrome.setStatus("Continued elsewhere", "warn");
    this.chrome.showNotice(TAKEN_OVER, { tone: "warn" });
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
      if (!CONNECTION_ERRORS.has(e.code)) this.chrome.toast(`Server: ${e.message || e.code || "error"}`);
      return;
    }
    this.onEvent(event);
  }

  onStatus(status, detail) {
    const debug = this.debug;
    if (status === "connecting") {
      debug.stats.connectAttempts++;
      if (!detail.attempt) {
        this.chrome.setStatus(detail.resuming ? "Continuing the conversation…" : "Connecting to the server…", "busy");
      }
      this.setState(detail.attempt ? "reconnecting" : "connecting");
      return;
    }
    if (status === "open") {
      this.stopTicker();
      if (this.wasOpen) debug.stats.reconnects++;
      this.wasOpen = true;
      debug.everConnected = true;
      debug.connected = true;
      this.onConnection(true);
      this.showNotices();
      return;
    }
    if (status === "taken-over") {
      debug.connected = false;
      this.stopTicker();
      this.clearPlayback();
      this.onConnection(false);
      this.takenOver();
      return;
    }
    if (status === "resume-failed") {
      debug.connected = false;
      debug.stats.resumeFailures++;
      this.stickyNotice = RESUME_FAILED;
      this.onConnection(false);
      return;
    }
    if (status === "retrying") {
      debug.connected = false;
      this.stickyNotice = null;
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
