// "Continue on another device": the link (#resume=TOKEN) that continues this tab's conversation
// in another tab or on another device. Opening it there takes the conversation over; this tab
// then stops and says so.

import { resumeLink } from "./resume.js";
import { copyText } from "./ui.js";

export class Handoff {
  /** @param {{store: {get(): string|null}, chrome: import("./ui.js").Chrome}} opts */
  constructor({ store, chrome }) {
    this.store = store;
    this.chrome = chrome;
    this.button = document.getElementById("continue");
    this.panel = document.getElementById("continue-panel");
    this.link = document.getElementById("continue-link");
    this.copy = document.getElementById("continue-copy");
    this.button.addEventListener("click", () => this.toggle());
    this.link.addEventListener("focus", () => this.link.select());
    this.copy.addEventListener("click", async () => {
      const ok = await copyText(this.link.value);
      this.chrome.toast(ok ? "Link copied." : "Select the link and copy it.", 3000);
    });
    this.refresh();
  }

  /** Follows the tab's token: no token (no conversation yet), nothing to hand off. */
  refresh() {
    const token = this.store.get();
    this.button.disabled = !token;
    this.link.value = token ? resumeLink(token) : "";
    if (!token) this.show(false);
  }

  toggle() {
    this.show(this.panel.hidden);
  }

  show(open) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.link.select();
  }
}
