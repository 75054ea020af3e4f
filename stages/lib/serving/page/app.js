// The page of stages.serve: draw on the canvas (or upload a picture) and see the model's
// class probabilities as bars, updated while you draw. No library: it runs offline.
"use strict";

const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d");
const chart = document.getElementById("chart");
const message = document.getElementById("message");
let bars = {};  // class name -> {row elements}
let drawing = false, drawn = false, busy = false, again = false;

function clear() {
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  drawn = false;
  show(null);
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}

canvas.addEventListener("pointerdown", event => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  context.beginPath();
  context.moveTo(...point(event));
  context.lineTo(...point(event));
  context.stroke();
});
canvas.addEventListener("pointermove", event => {
  if (!drawing) return;
  context.lineTo(...point(event));
  context.stroke();
  drawn = true;
  classify();
});
for (const type of ["pointerup", "pointercancel"]) {
  canvas.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    drawn = true;
    classify();
  });
}

// One request at a time: strokes made meanwhile are sent when it answers.
function classify() {
  if (!drawn) return;
  if (busy) { again = true; return; }
  busy = true;
  canvas.toBlob(blob => send(blob, "drawing.png"), "image/png");
}

async function send(file, name) {
  const form = new FormData();
  form.append("file", file, name);
  try {
    const response = await fetch("predict", {method: "POST", body: form});
    const answer = await response.json();
    if (response.ok) {
      show(answer.predictions[0]);
    } else {
      message.textContent = answer.error;
    }
  } catch (problem) {
    message.textContent = `The server did not answer: ${problem}`;
  } finally {
    busy = false;
    if (again) { again = false; classify(); }
  }
}

function show(prediction) {
  message.textContent = "";
  document.getElementById("top-class").textContent = prediction ? prediction.class : "–";
  document.getElementById("top-probability").textContent =
    prediction ? `probability ${prediction.probability.toFixed(3)}` : "";
  for (const [name, row] of Object.entries(bars)) {
    const probability = prediction ? prediction.probabilities[name] : 0;
    row.fill.style.width = `${(100 * probability).toFixed(1)}%`;
    row.value.textContent = prediction ? `${(100 * probability).toFixed(1)}%` : "";
    for (const element of [row.label, row.value]) {
      element.classList.toggle("top", prediction !== null && name === prediction.class);
    }
    row.track.classList.toggle("top", prediction !== null && name === prediction.class);
  }
}

document.getElementById("clear").addEventListener("click", clear);
document.getElementById("upload").addEventListener("change", async event => {
  const file = event.target.files[0];
  if (!file) return;
  event.target.value = "";
  try {  // shown on the canvas, fitted; the file itself is what the model gets
    const picture = await createImageBitmap(file);
    const scale = Math.min(canvas.width / picture.width, canvas.height / picture.height);
    clear();
    const [width, height] = [picture.width * scale, picture.height * scale];
    context.drawImage(picture, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
  } catch (problem) {
    clear();
  }
  busy = true;
  send(file, file.name);
});

function element(tag, className, parent) {
  const made = document.createElement(tag);
  made.className = className;
  parent.appendChild(made);
  return made;
}

async function start() {
  const info = await (await fetch("health")).json();
  document.title = `${info.dataset}: draw, and ${info.model} classifies`;
  document.getElementById("title").textContent = `${info.dataset}: draw, and the model classifies`;
  document.getElementById("model").textContent =
    `Model ${info.model}, test accuracy ${(100 * info.test_accuracy).toFixed(2)}%, ` +
    `${info.image_size[1]}x${info.image_size[0]} ${info.color} images`;
  // The canvas has the images' aspect ratio, about 280 pixels on its longer side.
  const [height, width] = info.image_size;
  const scale = Math.max(1, Math.round(280 / Math.max(height, width)));
  canvas.width = width * scale;
  canvas.height = height * scale;
  context.lineWidth = Math.max(canvas.width, canvas.height) / 12;
  context.lineCap = context.lineJoin = "round";
  context.strokeStyle = "#fff";
  for (const name of info.classes) {
    const label = element("span", "label", chart);
    label.textContent = name;
    const track = element("span", "track", chart);
    bars[name] = {label, track, fill: element("span", "fill", track), value: element("span", "value", chart)};
  }
  clear();
}

start().catch(problem => { message.textContent = `Cannot reach the server: ${problem}`; });
