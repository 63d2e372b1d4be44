// What both modes share: a start/stop button driving one VoiceSession, a level meter, and a
// scrolling pane that follows the newest words unless the reader scrolled up.

import { VoiceSession } from "./session.js";

export class ModeView {
  // options: { chrome, debug, buttonId, meterId, pane, labels: [off, on], stopped, session, query, playback,
  //            resume (the resume token store, to continue the conversation across connections) }
  constructor(options) {
    this.options = options;
    this.chrome = options.chrome;
    this.debug = options.debug;
    this.button = document.getElementById(options.buttonId);
    this.buttonLabel = this.button.querySelector(".label");
    this.meter = document.getElementById(options.meterId);
    this.pane = options.pane;
    this.session = null;
    this.follow = true;
    this.pane.addEventListener("scroll", () => {
      this.follow = this.pane.scrollHeight - this.pane.scrollTop - this.pane.clientHeight < 48;
    });
    this.button.addEventListener("click", () => (this.session ? this.stop() : this.start()));
  }

  get running() {
    return this.session !== null;
  }

  scrollToEnd() {
    if (this.follow) this.pane.scrollTop = this.pane.scrollHeight;
  }

  // hook for subclasses: called with the new session before it starts
  prepare(_session) {}

  async start() {
    if (this.session) return;
    this.setButton(true);
    const session = new VoiceSession({
      query: this.options.query,
      session: this.options.session,
      resume: this.options.resume || null,
      playback: this.options.playback,
      chrome: this.chrome,
      debug: this.debug,
      meter: this.meter,
      onEvent: (event) => this.onEvent(event),
      onConnection: (up) => this.onConnection(up),
      onLost: () => this.stop(),
    });
    this.prepare(session);
    this.session = session;
    const ok = await session.start();
    if (!ok && this.session === session) {
      this.session = null;
      this.setButton(false);
    }
  }

  async stop() {
    const session = this.session;
    if (!session) return;
    this.session = null;
    this.setButton(false);
    await session.stop();
    this.chrome.setStatus(this.options.stopped, "idle");
  }

  setButton(on) {
    this.button.setAttribute("aria-pressed", String(on));
    this.buttonLabel.textContent = this.options.labels[on ? 1 : 0];
  }
}
