// The transcript panel: the partial being decided, a line per final, and the lines Theo speaks.

import { demo, record, timing, ui } from "./ui.js";

const PLACEHOLDERS = {
  transcribe: "Your words appear here as you speak: grey words are still being decided, black ones are settled. "
    + "A line is final when you pause.",
  talk: "Talk with Theo: say something and pause. Your words appear here, then Theo's answer as it is written, "
    + "and you hear it. Talk over Theo to interrupt.",
};

export function setPlaceholder(talk) {
  ui.placeholder.textContent = PLACEHOLDERS[talk ? "talk" : "transcribe"];
}

export function addLine(line) {
  ui.finals.appendChild(line);
  ui.placeholder.hidden = true;
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

export function meta(text) {
  const span = document.createElement("span");
  span.className = "meta";
  span.textContent = text;
  return span;
}

export function showPartial(confirmed, unconfirmed) {
  ui.partial.querySelector(".confirmed").textContent = confirmed || "";
  ui.partial.querySelector(".unconfirmed").textContent = unconfirmed || "";
  ui.partial.dataset.empty = confirmed || unconfirmed ? "false" : "true";
  if (confirmed || unconfirmed) ui.placeholder.hidden = true;
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

export function addFinal(event) {
  showPartial("", "");
  demo.finals.push(event.text);
  const line = document.createElement("p");
  line.className = "final";
  line.textContent = event.text;
  const parts = [];
  if (timing.speechEndedAt != null) {
    const delay = performance.now() - timing.speechEndedAt;
    record("final", delay, ui.latFinal);
    parts.push(`final ${Math.round(delay)} ms after you stopped`);
    timing.speechEndedAt = null;
  }
  if (event.language) parts.push(event.language);
  if (event.confidence != null) parts.push(`confidence ${Math.round(event.confidence * 100)}%`);
  line.appendChild(meta(parts.join(" · ")));
  addLine(line);
  ui.repeat.disabled = demo.state !== "live";
}

// What Theo was asked to say (tts.speak).
export function addSpokenLine(text) {
  const line = document.createElement("p");
  line.className = "final theo-line";
  line.textContent = text;
  addLine(line);
}
