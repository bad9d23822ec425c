// "Talk with Theo" (WebRTC mode): Theo's voice agent answers on the call. When the data channel opens the
// page sends session.configure with "agent": {} (the server's LLM settings, THEO_AGENT_*). The
// conversation shows the caller's finals (transcript.js) and each answer as it is written
// (agent.response.text.delta), Theo's turn (agent.state), interruptions (agent.interrupted: the part that
// was not heard is greyed) and errors, spelled out. Theo's voice plays from the call's audio track.

import { addLine, meta, setPlaceholder } from "./transcript.js";
import { demo, send, setModeButtons, setPill, timing, ui } from "./ui.js";

const WHILE_SPEAKING = {
  "barge-in": "Talk over Theo to interrupt.",
  mute: "Your microphone is muted until Theo finishes.",
  off: "Theo finishes, then answers what you said meanwhile.",
};

// agent.state -> the pill, and the call's title and subtitle
const TURNS = {
  listening: ["on", "Theo listening", "Your turn", () => "Say something, then pause: Theo answers."],
  thinking: ["busy", "Theo thinking…", "Theo is thinking…", () => "Writing an answer to what you said."],
  speaking: ["on", "Theo answering", "Theo is answering", () => WHILE_SPEAKING[interruptions()]],
};

// Errors worth explaining: what happened, and what to do about it.
const EXPLAINED = {
  llm_not_configured: [
    "Theo can't answer: this server has no language model configured.",
    "Start theo serve with THEO_AGENT_LLM_BASE_URL and THEO_AGENT_LLM_MODEL pointing at any OpenAI-compatible "
      + "server (llama.cpp, Ollama, vLLM…), or choose Transcribe. What you say is still transcribed.",
  ],
  llm_unavailable: [
    "Theo's language model did not answer.",
    "Theo said so out loud; your next turn tries again.",
  ],
};

const lines = new Map(); // response id -> { line, text, response }: its bubble in the conversation
let speakingId = null; // request_id of the last tts.speaking_start: the answer agent.state "speaking" means

function interruptions() {
  return (demo.agent.options && demo.agent.options.interruptions) || "barge-in";
}

export function setTalk(on) {
  if (on === demo.talk || (on && demo.mode !== "webrtc")) return;
  demo.talk = on;
  setModeButtons();
  const url = new URL(location.href);
  if (on) url.searchParams.set("talk", "1");
  else url.searchParams.delete("talk");
  history.replaceState(null, "", url);
  ui.agent.hidden = !on;
  ui.latTtsNote.textContent = on ? "after your turn ends" : "after you press Speak";
  setPlaceholder(on);
  // null stops it; the browser cancels echo itself (see session.js)
  if (demo.state === "live") send({ type: "session.configure", agent: on ? { echo_cancellation: false } : null });
  if (on && demo.state === "live") talkStarting();
}

// The agent was asked for: agent.configured and agent.state follow, or an error.
export function talkStarting() {
  setPill(ui.agent, "busy", "Theo starting…");
  ui.title.textContent = "Starting Theo…";
  ui.sub.textContent = "Theo answers once its language model is ready.";
}

export function resetTalk() {
  demo.agent.state = null;
  timing.answerFrom = null;
  setPill(ui.agent, "off", "Theo off");
  for (const { line, response } of lines.values()) {
    if (!response.done) line.dataset.state = "cut"; // the call ended mid-answer
  }
}

export function onSpeakingStart(event) {
  speakingId = event.request_id || null;
}

// The agent's events (agent.*; anything else is ignored).
export function onAgentEvent(event) {
  switch (event.type) {
    case "agent.configured":
      demo.agent.options = event.options;
      break;
    case "agent.state":
      onTurn(event);
      break;
    case "agent.response.text.delta":
      onDelta(event);
      break;
    case "agent.interrupted":
      onInterrupted(event);
      break;
    case "agent.response.text.done":
      onDone(event);
      break;
    case "agent.resumed": // a false interruption (no words came): Theo says the rest, as a new answer
      lines.get(event.response_id)?.line.appendChild(meta("no words came: Theo goes on"));
      break;
    case "agent.tool_call":
      addEventLine(`Theo uses the tool ${event.name}`, event.arguments || "");
      break;
    case "agent.call_ended":
      addEventLine("Theo ended the call", event.reason || "");
      break;
    case "agent.stopped":
      demo.agent.state = null;
      setPill(ui.agent, "off", "Theo off");
      if (demo.state === "live") {
        ui.title.textContent = "Listening";
        ui.sub.textContent = "Speak naturally. Pause to finish a sentence.";
      }
      break;
    default:
      break;
  }
}

function onTurn(event) {
  const turn = TURNS[event.state];
  if (!turn) return;
  const [pill, label, title, sub] = turn;
  demo.agent.state = event.state;
  demo.agent.states.push(event.state);
  setPill(ui.agent, pill, label);
  if (demo.state === "live") {
    ui.title.textContent = title;
    ui.sub.textContent = sub();
  }
  if (event.state === "thinking" && event.response_id) {
    bubble(event.response_id).response.user_text = event.user_text || null;
    if (timing.answerFrom != null) timing.ttsRequestedAt = timing.answerFrom; // Theo's first audio: from there
    timing.answerFrom = null;
  }
  if (event.state === "speaking" && speakingId) {
    // its bubble: there since "thinking", or first seen now (a greeting, the rest after a false interruption)
    const { line, response } = bubble(speakingId);
    if (!response.text) line.dataset.state = "speaking";
  }
  // barge-in (and off): the microphone stays open while Theo answers (tts.speaking_start said muted)
  if (event.state === "speaking" && interruptions() !== "mute") {
    setPill(ui.mute, "on", "Mic open while Theo speaks");
  }
}

// Something the agent did besides talking (a tool call, hanging up).
function addEventLine(text, detail) {
  const line = document.createElement("p");
  line.className = "final event-line";
  line.textContent = text;
  if (detail) line.appendChild(meta(detail));
  addLine(line);
}

function bubble(id) {
  let entry = lines.get(id);
  if (entry) return entry;
  const line = document.createElement("p");
  line.className = "final theo-line agent-line";
  line.dataset.state = "thinking";
  line.dataset.responseId = id;
  const text = document.createElement("span");
  text.className = "text";
  line.appendChild(text);
  const response = {
    id, user_text: null, text: "", spoken_text: null, pieces: 0, done: false, interrupted: false, heard_text: null,
    played_ms: 0, emergency: false,
  };
  demo.agent.responses.push(response);
  entry = { line, text, response };
  lines.set(id, entry);
  addLine(line);
  return entry;
}

function onDelta(event) {
  const { line, text, response } = bubble(event.response_id);
  response.text = response.text ? `${response.text} ${event.text}` : event.text;
  response.pieces += 1;
  if (event.emergency) {
    response.emergency = true; // the spoken apology when no LLM answered
    line.classList.add("emergency");
  }
  text.textContent = response.text;
  line.dataset.state = "streaming";
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

function onInterrupted(event) {
  const { line, response } = bubble(event.response_id);
  response.interrupted = true;
  demo.agent.interruptions += 1;
  line.dataset.state = "interrupted";
}

function onDone(event) {
  const { line, text, response } = bubble(event.response_id);
  // event.text is what went to speech; an interrupted answer may have been written further than that
  const written = response.text.startsWith(event.text) ? response.text : event.text;
  Object.assign(response, {
    text: written, spoken_text: event.text, heard_text: event.heard_text, interrupted: event.interrupted,
    played_ms: event.played_ms, done: true,
  });
  text.replaceChildren(...answerText(written, event));
  line.dataset.state = event.interrupted ? "interrupted" : "done";
  line.appendChild(meta(describeAnswer(written, event)));
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// The answer, with what the caller did not hear (after an interruption) greyed.
function answerText(written, event) {
  if (!written) return ["(no answer)"];
  const heard = (event.heard_text || "").replace(/…$/, "");
  if (!event.interrupted || !written.startsWith(heard)) return [written];
  const unheard = document.createElement("span");
  unheard.className = "unheard";
  unheard.title = "Not heard: you interrupted Theo";
  unheard.textContent = written.slice(heard.length);
  return [heard, unheard];
}

function describeAnswer(written, event) {
  const played = `${(event.played_ms / 1000).toFixed(1)} s`;
  if (!written) return "you spoke again first, or the model wrote nothing";
  if (!event.interrupted) return `${played} spoken`;
  if (!event.played_ms) return "interrupted before you heard it";
  const unheard = written.length > (event.heard_text || "").replace(/…$/, "").length;
  return `you interrupted after ${played}${unheard ? ": the grey part was not heard" : ""}`;
}

// Talk with Theo shows every error in the conversation, explained where it can be.
export function showError(event) {
  const known = EXPLAINED[event.code];
  const line = document.createElement("p");
  line.className = "final notice-line";
  const what = document.createElement("strong");
  what.textContent = known ? known[0] : `Theo: ${event.message || event.code}`;
  line.appendChild(what);
  if (known) {
    const hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = known[1];
    line.append(" ", hint);
  }
  const details = [event.code, event.param].filter(Boolean);
  if (known && event.message) details.push(event.message);
  line.appendChild(meta(details.join(" · ")));
  addLine(line);
  const agentRefused = !demo.agent.state && (event.param || "").startsWith("agent");
  if (event.code === "llm_not_configured" || agentRefused) {
    demo.agent.state = "unavailable";
    setPill(ui.agent, "bad", "Theo can't answer");
    if (demo.state === "live") {
      ui.title.textContent = "Transcribing only";
      ui.sub.textContent = "Theo can't answer (the message below says why); what you say is still transcribed.";
    }
  }
}
