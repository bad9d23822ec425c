// Theo RTC web demo (plain JS modules, no build step). Two ways to reach Theo:
//   WebRTC · direct (webrtc.js): one WebRTC call to the server, events on the "oai-events" data channel.
//   LiveKit room (livekit.js): the page and `theo agent` meet in a LiveKit room.
// and, on WebRTC, two things Theo does: Transcribe (what you say, and Theo speaks what you type), or
// Talk with Theo (agent.js): Theo's voice agent answers you out loud.
// session.js runs the call and Theo's events, transcript.js the transcript panel, voices.js the language
// and voice pickers, audio.js the level meters; ui.js holds what they share (window.theoDemo included).

import { setTalk } from "./agent.js";
import { loadLiveKitClient, startLiveKit } from "./livekit.js";
import { endCall } from "./session.js";
import { addSpokenLine, setPlaceholder } from "./transcript.js";
import { demo, send, setModeButtons, timing, toast, ui } from "./ui.js";
import { applyVoice, loadModels, loadVoices, onLanguageChange } from "./voices.js";
import { startWebRTC } from "./webrtc.js";

ui.call.addEventListener("click", () => {
  if (demo.state !== "idle") endCall();
  else if (demo.mode === "livekit") startLiveKit();
  else startWebRTC();
});

// Closing the tab: tell the server right away instead of waiting for the transport to time out.
window.addEventListener("pagehide", () => {
  if (demo.callId && demo.state !== "idle") navigator.sendBeacon(`/v1/realtime/calls/${demo.callId}/hangup`);
});

// --- mode: WebRTC direct or LiveKit room; Transcribe or Talk with Theo -----------------------------------------

function setMode(mode) {
  if (demo.state !== "idle" || mode === demo.mode) return;
  if (mode === "livekit") setTalk(false); // the conversation runs on the WebRTC path
  demo.mode = mode;
  setModeButtons();
  const url = new URL(location.href);
  if (mode === "livekit") url.searchParams.set("mode", "livekit");
  else url.searchParams.delete("mode");
  history.replaceState(null, "", url);
  if (mode === "livekit") {
    ui.latConnectNote.textContent = "join to Theo listening";
    ui.modeNote.textContent = "Theo joins the room as an agent";
    ui.sub.textContent = "Joins a LiveKit room; your browser will ask for the microphone.";
    loadLiveKitClient().catch((err) => {
      ui.modeNote.textContent = "unavailable on this server";
      ui.modeLivekit.title = `LiveKit mode is unavailable: ${err.message}`;
      toast(`LiveKit mode is unavailable: ${err.message}.`);
    });
  } else {
    ui.latConnectNote.textContent = "offer to audio flowing";
    ui.modeNote.textContent = "";
    ui.sub.textContent = "Your browser will ask for the microphone.";
  }
}

ui.modeWebrtc.addEventListener("click", () => setMode("webrtc"));
ui.modeLivekit.addEventListener("click", () => setMode("livekit"));
ui.talkOff.addEventListener("click", () => setTalk(false));
ui.talkOn.addEventListener("click", () => setTalk(true));

// --- Theo speaks what you type ---------------------------------------------------------------------------------

function speak(text) {
  text = text.trim();
  if (!text || demo.state !== "live") return;
  timing.ttsRequestedAt = performance.now();
  send({ type: "tts.speak", text });
  addSpokenLine(text);
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  speak(ui.text.value);
  ui.text.value = "";
});
ui.repeat.addEventListener("click", () => speak(demo.finals[demo.finals.length - 1] || ""));

ui.language.addEventListener("change", onLanguageChange);
ui.voice.addEventListener("change", applyVoice);

// --- start ---------------------------------------------------------------------------------------------------

const query = new URLSearchParams(location.search);
if (query.get("language")) ui.language.value = query.get("language");
if (query.get("mode") === "livekit") setMode("livekit");
else if (query.get("talk")) setTalk(true);
setPlaceholder(demo.talk);
setModeButtons();
loadModels();
loadVoices();
