// What every part of the page shares: its elements, what it shows (window.theoDemo, also read by the
// end-to-end tests), the connection of the call in progress, the moments latency is measured from, and a
// few helpers.

const $ = (id) => document.getElementById(id);
export const ui = {
  call: $("call"), title: $("call-title"), sub: $("call-sub"), ring: $("mic-ring"),
  conn: $("pill-conn"), vad: $("pill-vad"), mute: $("pill-mute"), theo: $("pill-theo"), agent: $("pill-agent"),
  finals: $("finals"), partial: $("partial"), placeholder: $("placeholder"), transcript: $("transcript"),
  form: $("speak-form"), text: $("speak-text"), speak: $("speak"), repeat: $("repeat"), toast: $("toast"),
  language: $("language"), voice: $("voice"), note: $("model-note"), audio: $("theo-audio"),
  latPartial: $("lat-partial"), latFinal: $("lat-final"), latTts: $("lat-tts"), latConnect: $("lat-connect"),
  latTtsNote: $("lat-tts-note"), latConnectNote: $("lat-connect-note"),
  meterMic: $("meter-mic"), meterTheo: $("meter-theo"),
  modeWebrtc: $("mode-webrtc"), modeLivekit: $("mode-livekit"), modeNote: $("mode-note"),
  talkOff: $("talk-off"), talkOn: $("talk-on"),
};

export const demo = (window.theoDemo = {
  state: "idle", callId: null, sessionId: null, config: null, events: [], finals: [], partials: 0,
  errors: [], remoteMaxRms: 0, latency: { partial: [], final: [], tts: [], connect: [] },
  mode: "webrtc", livekit: null, transcripts: [], lkPartials: 0,
  // "Talk with Theo": the voice agent answers (WebRTC mode); responses as shown, one per answer
  talk: false, agent: { state: null, states: [], options: null, responses: [], interruptions: 0 },
});

// The call in progress (one at a time): the WebRTC peer and its data channel, or the LiveKit room.
export const conn = {
  pc: null, channel: null, micStream: null, lkRoom: null, meters: [], theoJoinTimer: null, callStartedAt: null,
};

// performance.now() of what the latency figures count from.
export const timing = {
  speechStartedAt: null, speechEndedAt: null, firstPartialSeen: false, ttsRequestedAt: null,
  answerFrom: null, // Talk with Theo: the end of the caller's speech, until Theo's answer is heard
};

export const LK_EVENTS = "theo.events";

export function setPill(pill, state, label) {
  pill.dataset.state = state;
  pill.querySelector("b").textContent = label;
}

export function ms(value) {
  return value == null ? "–" : `${Math.round(value)} ms`;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
}

export function record(kind, value, element) {
  demo.latency[kind].push(value);
  const values = demo.latency[kind];
  element.textContent = ms(value);
  element.title = values.length > 1 ? `median of ${values.length}: ${ms(median(values))}` : "";
}

let toastTimer = null;
export function toast(message, kind = "error") {
  ui.toast.textContent = message;
  ui.toast.className = `toast ${kind === "info" ? "info" : ""}`;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (ui.toast.hidden = true), 6000);
}

export function send(event) {
  if (conn.lkRoom) {
    const payload = new TextEncoder().encode(JSON.stringify(event));
    conn.lkRoom.localParticipant.publishData(payload, { reliable: true, topic: LK_EVENTS }).catch((err) => {
      toast(`Could not send ${event.type} to Theo: ${err.message}`);
    });
  } else if (conn.channel && conn.channel.readyState === "open") {
    conn.channel.send(JSON.stringify(event));
  }
}

// The two choices above the call: how the page reaches Theo (fixed during a call), and what Theo does
// (Transcribe or Talk with Theo: WebRTC mode only, switchable during a call).
export function setModeButtons() {
  const idle = demo.state === "idle";
  for (const [button, mode] of [[ui.modeWebrtc, "webrtc"], [ui.modeLivekit, "livekit"]]) {
    button.setAttribute("aria-selected", String(demo.mode === mode));
    button.disabled = !idle && demo.mode !== mode;
  }
  for (const [button, talk] of [[ui.talkOff, false], [ui.talkOn, true]]) {
    button.setAttribute("aria-selected", String(demo.talk === talk));
    button.disabled = demo.mode !== "webrtc";
  }
}
