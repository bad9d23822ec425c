// The call's life on the page, whichever way it reaches Theo: live once Theo's session is there, the events
// Theo sends (the same JSON on the WebRTC data channel and on theo.events in a LiveKit room), hanging up.

import { onAgentEvent, onSpeakingStart, resetTalk, showError, talkStarting } from "./agent.js";
import { addFinal, showPartial } from "./transcript.js";
import { conn, demo, record, send, setModeButtons, setPill, timing, toast, ui } from "./ui.js";
import { describeModel, voiceSettings } from "./voices.js";

export function onChannelOpen() {
  clearTimeout(conn.theoJoinTimer);
  demo.state = "live";
  ui.call.disabled = false;
  ui.call.dataset.state = "live";
  ui.call.setAttribute("aria-label", "Hang up");
  ui.title.textContent = "Listening";
  ui.sub.textContent = "Speak naturally. Pause to finish a sentence.";
  ui.speak.disabled = false;
  ui.repeat.disabled = demo.finals.length === 0;
  setPill(ui.vad, "off", "Waiting for speech");
  const configure = { type: "session.configure", ...voiceSettings() };
  const talk = demo.talk && demo.mode === "webrtc";
  // the voice agent with the server's settings (its LLM: THEO_AGENT_*); the browser cancels the echo of
  // Theo's voice itself (getUserMedia echoCancellation), so the server's canceller stays out of the way
  if (talk) configure.agent = { echo_cancellation: false };
  if (Object.keys(configure).length > 1) send(configure);
  if (talk) talkStarting();
}

export function failCall(message) {
  toast(message);
  endCall();
}

export function endCall(message) {
  if (message) toast(message, "info");
  clearTimeout(conn.theoJoinTimer);
  if (conn.lkRoom) {
    const room = conn.lkRoom;
    conn.lkRoom = null;
    room.disconnect().catch(() => {}); // Theo ends the session when our track goes, and leaves when alone
  }
  if (conn.channel && conn.channel.readyState === "open") send({ type: "session.close" });
  const peer = conn.pc;
  conn.pc = null;
  conn.channel = null;
  // Let session.close leave before the transport goes away; the server also notices the closed peer.
  setTimeout(() => peer && peer.close(), 300);
  if (conn.micStream) conn.micStream.getTracks().forEach((t) => t.stop());
  conn.micStream = null;
  conn.meters.forEach((stop) => stop());
  conn.meters = [];
  demo.state = "idle";
  ui.call.disabled = false;
  ui.call.dataset.state = "idle";
  ui.call.setAttribute("aria-label", "Start talking");
  ui.title.textContent = "Start talking";
  ui.sub.textContent = "Your browser will ask for the microphone.";
  ui.speak.disabled = true;
  ui.repeat.disabled = true;
  setPill(ui.conn, "off", "Disconnected");
  setPill(ui.vad, "off", "VAD idle");
  setPill(ui.mute, "off", "Mic live");
  setPill(ui.theo, "off", "Theo quiet");
  resetTalk();
  showPartial("", "");
  setModeButtons();
}

export function onEvent(event) {
  // In a LiveKit room every participant's session publishes on theo.events: errors about someone else
  // (they name the participant) and other sessions' events are not ours.
  if (event.participant_identity && demo.livekit && event.participant_identity !== demo.livekit.identity) return;
  const lk = demo.mode === "livekit";
  if (lk && demo.sessionId && event.session_id && event.session_id !== demo.sessionId) return;
  demo.events.push(event.type);
  switch (event.type) {
    case "session.created":
    case "session.configured":
      demo.sessionId = event.session_id;
      demo.config = event.config;
      describeModel();
      if (lk && demo.state === "connecting") {
        demo.livekit.theo_ms = performance.now() - conn.callStartedAt;
        record("connect", demo.livekit.theo_ms, ui.latConnect);
        setPill(ui.conn, "on", "Theo in the room");
        onChannelOpen();
      }
      break;
    case "vad.speech_start":
      timing.speechStartedAt = performance.now();
      timing.firstPartialSeen = false;
      timing.answerFrom = null;
      setPill(ui.vad, "on", "Hearing you");
      break;
    case "vad.speech_end":
      timing.speechEndedAt = performance.now();
      if (demo.talk) timing.answerFrom = timing.speechEndedAt; // until Theo's answer is heard
      setPill(ui.vad, "off", "Waiting for speech");
      break;
    case "transcript.partial":
      demo.partials += 1;
      if (lk) break; // shown from the lk.transcription text streams
      if (!timing.firstPartialSeen && timing.speechStartedAt != null) {
        timing.firstPartialSeen = true;
        record("partial", performance.now() - timing.speechStartedAt, ui.latPartial);
      }
      showPartial(event.text, event.unconfirmed);
      break;
    case "transcript.final":
      if (!lk) addFinal(event);
      break;
    case "transcript.discarded":
      timing.answerFrom = null; // no words: no answer
      showPartial("", "");
      break;
    case "tts.speaking_start":
      setPill(ui.mute, "busy", "Mic muted while Theo speaks");
      onSpeakingStart(event);
      break;
    case "tts.speaking_end":
      setPill(ui.mute, "off", "Mic live");
      break;
    case "error":
      demo.errors.push(event);
      if (demo.talk) showError(event);
      else toast(`Theo: ${event.message || event.code}${event.code ? ` (${event.code})` : ""}`);
      break;
    case "session.closed":
      if (demo.state === "live") endCall(`Session ended (${event.reason}).`);
      break;
    default:
      onAgentEvent(event);
      break;
  }
}
