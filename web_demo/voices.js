// Language, speech model and Theo's voice: the pickers, and the session settings they become.

import { demo, send, ui } from "./ui.js";

let sttModels = [];

export function modelFor(language) {
  // English can use the small English-only Whisper; anything else needs a multilingual model.
  const current = (demo.config && demo.config.model) || null;
  if (language === "en") return null; // the server's default model
  if (current && !current.endsWith(".en")) return current;
  const preference = ["whisper-large-v3-turbo", "whisper-small", "whisper-base", "whisper-tiny"];
  const multilingual = sttModels.filter((m) => !m.endsWith(".en"));
  return preference.find((m) => multilingual.includes(m)) || multilingual[0] || null;
}

export function describeModel() {
  if (!demo.config) return;
  const language = ui.language.value;
  const english = demo.config.model.endsWith(".en");
  ui.note.textContent = `Speech model: ${demo.config.model}.`;
  if (language !== "en" && english) {
    ui.note.textContent += " It only knows English: run `theo pull whisper-base` for other languages.";
  }
}

export function onLanguageChange() {
  const language = ui.language.value;
  const model = modelFor(language);
  selectVoiceFor(language);
  if (demo.state !== "live") return;
  const change = { type: "session.configure", language: language === "auto" ? null : language };
  if (model && demo.config && model !== demo.config.model) change.model = model;
  if (language === "en" && demo.config && !demo.config.model.endsWith(".en")) {
    const english = sttModels.find((m) => m.endsWith(".en"));
    if (english) change.model = english;
  }
  send(change);
  applyVoice();
}

// session.configure fields for the chosen voice ({} while none is chosen).
export function voiceSettings() {
  const [model, voice] = (ui.voice.value || "").split("::");
  return model ? { tts_model: model, tts_voice: voice || null } : {};
}

export function applyVoice() {
  const voice = voiceSettings();
  if (voice.tts_model && demo.state === "live") send({ type: "session.configure", ...voice });
}

const FAVOURITE_VOICES = { en: ["af_heart", "joe"], pt: ["pf_dora", "pm_alex"] };
const MODEL_ORDER = ["kokoro", "piper", "espeak"]; // most natural first

export function selectVoiceFor(language) {
  const prefix = language === "auto" ? "en" : language;
  const options = [...ui.voice.options];
  const favourite = (FAVOURITE_VOICES[prefix] || [])
    .map((id) => options.find((o) => o.value.endsWith(`::${id}`)))
    .find(Boolean);
  const option = favourite || options.find((o) => (o.dataset.language || "").toLowerCase().startsWith(prefix));
  if (option) ui.voice.value = option.value;
}

function modelRank(name) {
  const rank = MODEL_ORDER.findIndex((prefix) => name.startsWith(prefix));
  return rank < 0 ? MODEL_ORDER.length : rank;
}

export async function loadModels() {
  try {
    const response = await fetch("/v1/models");
    const body = await response.json();
    sttModels = body.data.filter((m) => m.type === "stt").map((m) => m.id);
  } catch (err) {
    sttModels = [];
  }
}

export async function loadVoices() {
  try {
    const response = await fetch("/v1/audio/voices");
    const body = await response.json();
    ui.voice.innerHTML = "";
    const models = (body.data || []).slice().sort((a, b) => modelRank(a.model) - modelRank(b.model));
    for (const model of models) {
      if (!model.voices || !model.voices.length) continue;
      const group = document.createElement("optgroup");
      group.label = `${model.model} (${model.engine})`;
      for (const voice of model.voices) {
        const option = document.createElement("option");
        option.value = `${model.model}::${voice.id}`;
        option.dataset.language = voice.language || "";
        option.textContent = `${voice.name || voice.id}${voice.language ? ` · ${voice.language}` : ""}`;
        group.appendChild(option);
      }
      ui.voice.appendChild(group);
    }
    if (!ui.voice.options.length) ui.voice.innerHTML = '<option value="">No voices installed</option>';
    selectVoiceFor(ui.language.value);
  } catch (err) {
    ui.voice.innerHTML = '<option value="">Voices unavailable</option>';
  }
}
