// voxloop browser client: tabs, the two modes, and a debug hook for tests (window.voxloop).

import { ConversationView } from "./conversation.js";
import { DictationView } from "./dictation.js";
import { takeResumeFragment } from "./resume.js";
import { Chrome } from "./ui.js";

// A #resume=TOKEN link continues a conversation here: out of the address bar before anything else.
const handedOver = takeResumeFragment();

/** What tests (and curious people, in the console) can read. Counters only ever go up. */
const debug = {
  mode: "conversation",
  state: "idle",
  connected: false,
  everConnected: false,
  micError: null,
  audioLocked: false, // the browser holds audio back until a click (a page opened from a link)
  audioContextRate: null,
  stats: {
    eventsReceived: 0,
    audioChunksSent: 0,
    audioDeltasReceived: 0,
    audioSamplesReceived: 0,
    samplesPlayed: 0, // 24 kHz samples the player worklet actually output
    samplesBuffered: 0,
    underruns: 0,
    playbackClears: 0, // "clear" messages posted to the player worklet
    clearsAcknowledged: 0, // ... and confirmed by it (its queue is empty)
    samplesFlushed: 0, // queued samples a clear dropped unplayed (barge-in)
    deltasAfterClear: 0, // audio deltas of an already-cleared response (ignored)
    disconnects: 0, // connection attempts that failed or dropped
    reconnects: 0,
    connectAttempts: 0, // sockets opened (or tried)
    resumeFailures: 0, // resume tokens the server refused
  },
  sessionIds: [], // the id of each session.created (a resumed conversation keeps its id)
  replayedItems: 0, // items a resumed session re-announced that the view did not show yet
  takenOver: false, // a newer connection (another tab or device) continued the conversation
  userTranscripts: [],
  botTranscripts: [],
  metrics: [],
  interruptions: [], // {response_id, samplesReceived} per output_audio_buffer.cleared
  dictation: [],
  errors: [],
  lastEvents: [],
};
window.voxloop = debug;

const chrome = new Chrome();
const views = {
  conversation: new ConversationView({ chrome, debug }),
  dictation: new DictationView({ chrome, debug }),
};

const tabs = [...document.querySelectorAll('[role="tab"]')];

async function selectMode(mode, { focus = false } = {}) {
  if (!views[mode]) return;
  for (const tab of tabs) {
    const selected = tab.dataset.mode === mode;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  if (debug.mode === mode) return;
  // One live session at a time: leaving a mode stops it.
  const previous = views[debug.mode];
  debug.mode = mode;
  if (previous.running) await previous.stop();
  chrome.hideNotice();
  chrome.setStatus(mode === "conversation" ? "Ready — press Start talking." : "Ready — press Start dictation.");
  if (location.hash !== `#${mode}`) history.replaceState(null, "", `#${mode}`);
}

for (const tab of tabs) {
  tab.addEventListener("click", () => selectMode(tab.dataset.mode));
  tab.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(tab);
    let next = null;
    if (e.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
    else if (e.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
    else if (e.key === "Home") next = tabs[0];
    else if (e.key === "End") next = tabs[tabs.length - 1];
    if (next) {
      e.preventDefault();
      selectMode(next.dataset.mode, { focus: true });
    }
  });
}

const initial = location.hash.slice(1);
selectMode(views[initial] ? initial : "conversation");
if (debug.mode === "conversation") chrome.setStatus("Ready — press Start talking.");
if (handedOver) views.conversation.continueWith(handedOver);

// A #resume= link pasted into this page's address bar (no reload): continue that conversation.
window.addEventListener("hashchange", async () => {
  const token = takeResumeFragment();
  if (!token) return;
  await selectMode("conversation");
  await views.conversation.continueWith(token);
});

window.addEventListener("pagehide", () => {
  for (const view of Object.values(views)) if (view.running) view.stop();
});
