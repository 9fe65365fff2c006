// The explorer page: plain JavaScript and SVG, no build step.
// Routes live in the URL hash (#/word/bank:1, #/pair/dog/animal) so that the back button,
// reloads and shared links all work.  Text from the model is only ever set through
// textContent and attributes, never parsed as HTML.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
// One colour per component of the looked-up word; its neighbours share it.
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
const INACTIVE_COLOUR = "#9aa1ad";
const view = document.getElementById("view");
let measureNotes = {};

function colour(group) {
  return PALETTE[group % PALETTE.length];
}

// Styles go through the CSSOM: the page's Content-Security-Policy refuses style attributes.
function build(make, tag, attributes, children) {
  const node = make(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "style") {
      for (const [property, setting] of Object.entries(value)) {
        node.style.setProperty(property, setting);
      }
    } else {
      node.setAttribute(name, value);
    }
  }
  for (const child of children) {
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

function el(tag, attributes, ...children) {
  return build((t) => document.createElement(t), tag, attributes, children);
}

function svg(tag, attributes, ...children) {
  return build((t) => document.createElementNS(SVG_NS, t), tag, attributes, children);
}

class ApiError extends Error {
  constructor(message, suggestions) {
    super(message);
    this.suggestions = suggestions || [];
  }
}

async function api(path, params) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params || {})) {
    url.searchParams.set(name, value);
  }
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) {
    throw new ApiError(body.message || response.statusText, body.suggestions);
  }
  return body;
}

// What the user typed: a word, or word:i as the API reads it.
function wordLink(key) {
  return el("a", { href: "#/word/" + encodeURIComponent(key) }, key);
}

// A component the API named: its word and index travel apart, so a word that itself
// contains ":" (say "3:2") is never misread as a component.
function componentHref(point) {
  return `#/word/${encodeURIComponent(point.word)}/${point.component}`;
}

function fixed(value, digits) {
  return Number(value).toFixed(digits);
}

// ------------------------------------------------------------------ routing
function route() {
  const [, kind, ...parts] = location.hash.split("/");
  let args;
  try {
    args = parts.map(decodeURIComponent);
  } catch (error) {  // a hand-edited address with a broken %-escape
    show(Promise.reject(new Error(`not a valid address: ${location.hash}`)));
    return;
  }
  if (kind === "word" && args[0]) {
    const component = /^\d+$/.test(args[1] || "") ? Number(args[1]) : null;
    document.getElementById("query").value = component === null ? args[0] : `${args[0]}:${component}`;
    show(renderWord(args[0], component));
  } else if (kind === "pair" && args.length === 2) {
    document.getElementById("pair-a").value = args[0];
    document.getElementById("pair-b").value = args[1];
    show(renderPair(args[0], args[1]));
  } else {
    show(renderHome());
  }
}

// Only the latest navigation may draw: a slow answer to an earlier one is dropped.
let navigation = 0;
async function show(rendering) {
  const mine = ++navigation;
  view.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  let content;
  try {
    content = await rendering;
  } catch (error) {
    content = renderError(error);
  }
  if (mine === navigation) {
    view.replaceChildren(content);
  }
}

function renderError(error) {
  const box = el("div", { class: "panel" }, el("p", { class: "error" }, error.message));
  if (error.suggestions && error.suggestions.length) {
    const line = el("p", {}, "Did you mean: ");
    error.suggestions.forEach((key, i) => {
      line.append(i ? ", " : "", wordLink(key));
    });
    box.append(line);
  }
  return box;
}

async function renderHome() {
  const info = await api("api/info");
  const examples = el("p", { class: "examples" }, `Start with ${info.examples_note}: `);
  info.examples.forEach((word) => examples.append(wordLink(word)));
  return el(
    "div",
    { class: "panel" },
    el("h2", {}, "Explore the model"),
    el("p", {}, "Search a word to see one card per mixture component: its weight, its variance " +
      "and its nearest components, written other:j. Compare two words to see how their " +
      "components overlap and which entails which."),
    examples,
  );
}

// ------------------------------------------------------------------ word view
// A component index (from a followed link) picks the card to highlight, as a key word:i does.
async function renderWord(key, component) {
  const k = document.getElementById("k").value;
  const data = await api("api/word/" + encodeURIComponent(key), { k });
  const cards = el("section", { class: "cards", "aria-label": "components" });
  const focus = component === null ? data.focus : component;
  for (const card of data.components) {
    cards.append(renderCard(card, focus === card.index));
  }
  const inactive = data.components.filter((c) => !c.active).length;
  const heading = el(
    "div",
    {},
    el("h2", {}, data.word),
    el("p", { class: "subtitle" },
      `${data.components.length} components` + (inactive ? ` (${inactive} inactive)` : "") +
      ` · seen ${data.count.toLocaleString()} times · click a neighbour to go to it`),
    renderContextBox(data.word, cards),
  );
  const layout = el("div", { class: "word-layout" }, cards, renderMap(data));
  return el("div", {}, heading, layout);
}

// Type a sentence, see the posterior of each component given it and the chosen card.
function renderContextBox(word, cards) {
  const input = el("input", {
    id: "context", type: "text", maxlength: "2000", autocomplete: "off", required: "",
    placeholder: `a sentence using “${word}”`, "aria-label": "context sentence",
  });
  const result = el("p", { class: "context-result", id: "context-result", "aria-live": "polite" });
  const form = el("form", { class: "context-form", id: "context-form" }, input,
    el("button", { type: "submit" }, "Which sense?"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const context = input.value.trim();
    if (!context) {
      return;
    }
    try {
      showSense(await api("api/sense", { word, context }), cards, result);
    } catch (error) {
      result.replaceChildren(el("span", { class: "error" }, error.message));
    }
  });
  return el("div", { class: "panel context-panel" }, form, result);
}

function showSense(sense, cards, result) {
  for (const card of cards.querySelectorAll(".component-card")) {
    const index = Number(card.dataset.component);
    const share = sense.posterior[index];
    card.classList.toggle("chosen", index === sense.chosen);
    card.querySelector(".posterior").replaceChildren(
      el("dt", {}, "in context"),
      el("dd", {}, fixed(share, 3), bar(share, "posterior-bar")),
    );
  }
  const read = sense.prior_only ? "no known context word (the weights decide)" : sense.context_words.join(" ");
  result.replaceChildren("Chosen: ", el("strong", {}, `${sense.word}:${sense.chosen}`),
    ` (posterior ${fixed(sense.posterior[sense.chosen], 3)}) · context read: ${read}`);
  // On a narrow screen the cards stack under the form, and the chosen one may be far below.
  cards.querySelector(".component-card.chosen").scrollIntoView({ block: "nearest" });
}

function bar(share, kind) {
  return el("span", { class: `bar ${kind}`, style: { width: `${Math.round(share * 100)}px` } });
}

function renderCard(component, focused) {
  const card = el("article", {
    class: "component-card" + (focused ? " focus" : "") + (component.active ? "" : " inactive"),
    "data-component": component.index,
    style: { "--group-colour": component.active ? colour(component.index) : INACTIVE_COLOUR },
  });
  const usage = component.usage === null ? [el("dd", {}, "unknown")]
    : [el("dd", {}, fixed(component.usage, 3), bar(component.usage, "usage-bar"))];
  const stats = el(
    "dl",
    { class: "stats" },
    el("dt", {}, "usage"),
    ...usage,
    el("dt", {}, "weight"),
    el("dd", {}, fixed(component.weight, 3), bar(component.weight, "weight-bar")),
    el("dt", {}, "variance"),
    el("dd", {}, fixed(component.variance, 4)),
    el("dt", {}, "std σ"),
    el("dd", {}, fixed(component.std, 4)),
  );
  const posterior = el("dl", { class: "stats posterior" });
  const list = el("ol", { class: "neighbours" });
  for (const neighbour of component.neighbours) {
    list.append(el("li", {}, el("a", { href: componentHref(neighbour) }, neighbour.key),
      el("span", { class: "score" }, fixed(neighbour.similarity, 3))));
  }
  const title = el("h3", {}, component.key);
  if (component.active) {
    card.append(title, stats, posterior, list);
  } else {
    // Collapsed: it almost never is the sense in use, so its details wait for a click.
    const note = component.usage === null ? "inactive" : `inactive · wins ${fixed(100 * component.usage, 1)}% of its word's contexts`;
    card.append(title, posterior, el("details", {}, el("summary", {}, note), stats, list));
  }
  return card;
}

// The width the map gets in the page: its natural 540 px, or the panel's width on a narrow
// screen, where a scaled-down drawing would shrink its labels below reading size.
function mapWidth() {
  const page = getComputedStyle(view);
  const inside = view.clientWidth - parseFloat(page.paddingLeft) - parseFloat(page.paddingRight);
  const panel = 2 * 17;  // a panel's padding and border
  return Math.round(Math.min(540, Math.max(280, inside - panel)));
}

// The PCA map: axes share one scale, and radii are standard deviations on that scale.
function renderMap(data) {
  const width = mapWidth();
  const height = Math.round(width * 460 / 540);
  // Room for labels on either side of the outermost points.
  const [marginLeft, marginRight, marginY] = [48, 48, 28];
  const points = data.map;
  const lows = points.map((p) => [p.x - p.radius, p.y - p.radius]);
  const highs = points.map((p) => [p.x + p.radius, p.y + p.radius]);
  const minX = Math.min(...lows.map((v) => v[0]));
  const minY = Math.min(...lows.map((v) => v[1]));
  const spanX = Math.max(...highs.map((v) => v[0])) - minX || 1;
  const spanY = Math.max(...highs.map((v) => v[1])) - minY || 1;
  const scale = Math.min((width - marginLeft - marginRight) / spanX, (height - 2 * marginY) / spanY);
  const offsetX = marginLeft + (width - marginLeft - marginRight - scale * spanX) / 2;
  const offsetY = (height - scale * spanY) / 2;
  const place = (p) => [offsetX + (p.x - minX) * scale, height - offsetY - (p.y - minY) * scale];

  const plot = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "map of components" });
  plot.append(svg("rect", { x: 0, y: 0, width, height, fill: "#fbfcfd", stroke: "#d8dce4" }));
  // Neighbours first, so that the word's own components are drawn on top.
  const ordered = [...points].sort((p, q) => Number(p.query) - Number(q.query));
  const links = new Map();
  for (const point of ordered) {
    const [cx, cy] = place(point);
    // Grey for inactive components, and for the neighbours of the word's inactive ones.
    const stroke = point.active && data.components[point.group].active ? colour(point.group) : INACTIVE_COLOUR;
    const classes = [point.query ? "query" : "", point.active ? "" : "inactive"].join(" ").trim();
    const group = svg("a", { href: componentHref(point), class: classes });
    group.append(
      svg("title", {}, `${point.key}  σ = ${fixed(point.radius, 3)}` + (point.active ? "" : "  (inactive)")),
      svg("circle", {
        cx, cy, r: Math.max(point.radius * scale, 2),
        fill: stroke, "fill-opacity": point.query ? 0.18 : 0.06,
        stroke, "stroke-opacity": point.query ? 0.9 : 0.35, "stroke-width": point.query ? 2 : 1,
        "stroke-dasharray": point.active ? "none" : "4 3",
      }),
      svg("circle", { cx, cy, r: point.query ? 4 : 2.5, fill: stroke }),
    );
    plot.append(group);
    links.set(point, { group, cx, cy });
  }
  placeLabels(points, links, width, height);
  const legend = el("div", { class: "legend" });
  for (const component of data.components) {
    const hue = component.active ? colour(component.index) : INACTIVE_COLOUR;
    legend.append(el("span", { style: { "--group-colour": hue } },
      el("span", { class: "swatch" }), `${component.key} and its neighbours` + (component.active ? "" : " (inactive)")));
  }
  return el(
    "section",
    { class: "panel map", "aria-label": "map" },
    el("h3", {}, "Map"),
    plot,
    legend,
    el("p", { class: "caption" },
      "First two principal components of these component means. Each circle's radius is the " +
      "component's standard deviation, on the same scale as the axes."),
  );
}

// Labels that do not cover one another: the word's own components first, then each
// neighbour takes the first free spot around its point, nearest spots first; where all of
// them are taken it gets a spot further out with a leader line, or, on a crowded map, no
// label (its name stays in the point's tooltip and in the card).  Text widths are
// estimated generously from the number of characters, since the plot is not on screen yet.
const LABEL_FONT = { query: [13, 8.2], other: [11, 6.8] };  // [size, width per character]

function placeLabels(points, links, width, height) {
  const boxes = [];
  const free = (box) => box.x >= 2 && box.y >= 2 && box.x + box.w <= width - 2 && box.y + box.h <= height - 2 &&
    boxes.every((b) => box.x + box.w <= b.x || b.x + b.w <= box.x || box.y + box.h <= b.y || b.y + b.h <= box.y);
  // Every dot is an obstacle, so a label never hides another point.
  for (const { cx, cy } of links.values()) {
    boxes.push({ x: cx - 3, y: cy - 3, w: 6, h: 6 });
  }
  const byImportance = [...points].sort((p, q) => Number(q.query) - Number(p.query));
  for (const point of byImportance) {
    const { group, cx, cy } = links.get(point);
    const [size, perCharacter] = point.query ? LABEL_FONT.query : LABEL_FONT.other;
    const w = point.key.length * perCharacter + 2;
    const h = size + 3;
    let chosen = null;
    for (const distance of [6, 18, 32]) {
      for (const [ax, ay] of [[1, -1], [1, 1], [-1, -1], [-1, 1], [0, -1], [0, 1], [1, 0], [-1, 0]]) {
        const x = ax > 0 ? cx + distance : ax < 0 ? cx - distance - w : cx - w / 2;
        const y = ay > 0 ? cy + distance : ay < 0 ? cy - distance - h : cy - h / 2;
        const box = { x, y, w, h };
        if (free(box)) {
          chosen = { box, distance };
          break;
        }
      }
      if (chosen) {
        break;
      }
    }
    if (!chosen) {
      continue;
    }
    const { box, distance } = chosen;
    boxes.push(box);
    if (distance > 6) {  // a leader line from the point to the label's nearest edge
      const tx = Math.min(Math.max(cx, box.x), box.x + box.w);
      const ty = Math.min(Math.max(cy, box.y), box.y + box.h);
      group.append(svg("line", { x1: cx, y1: cy, x2: tx, y2: ty, class: "leader" }));
    }
    group.append(svg("text", { x: box.x + 1, y: box.y + size, class: "label" }, point.key));
  }
}

// ------------------------------------------------------------------ pair view
async function renderPair(a, b) {
  const data = await api("api/pair", { a, b });
  return el(
    "div",
    {},
    el("h2", {}, `${a} vs ${b}`),
    renderEntailment(data),
    el(
      "div",
      { class: "pair-layout" },
      el("section", { class: "panel heatmap" }, el("h3", {}, "Partial energies ξij"), renderHeatmap(data),
        el("p", { class: "caption" },
          "ξij = log N(0; μai − μbj, Σai + Σbj), Eq. (3): the higher, the more the two components overlap.")),
      el("section", { class: "panel" }, el("h3", {}, "Similarity measures"), renderMeasures(data),
        el("h3", {}, "KL divergence of components"), renderKl(data)),
    ),
  );
}

function renderEntailment(data) {
  const { direction, min_kl_a_b: ab, min_kl_b_a: ba } = data.entailment;
  const numbers = `min KL(${data.a} ‖ ${data.b}) = ${fixed(ab, 3)}, min KL(${data.b} ‖ ${data.a}) = ${fixed(ba, 3)}`;
  const line = el("p", { class: "entailment panel", id: "entailment" });
  if (direction === "neither") {
    line.append("No entailment direction: ", numbers, ".");
  } else {
    const [specific, general] = direction === "a_entails_b" ? [data.a, data.b] : [data.b, data.a];
    line.append(el("strong", {}, `${specific} ⊨ ${general}`),
      `: ${specific} is the more specific word, since ${numbers} (paper 4.6).`);
  }
  return line;
}

// Light (low energy) to dark blue (high energy), relative to this pair's range.
function shade(t) {
  const low = [239, 243, 255];
  const high = [8, 69, 148];
  const mix = low.map((c, i) => Math.round(c + (high[i] - c) * t));
  return [`rgb(${mix.join(",")})`, t > 0.55 ? "white" : "#1d2330"];
}

function renderHeatmap(data) {
  const matrix = data.partial_energy;
  const cell = 92;
  const left = 120;
  const top = 44;
  const values = matrix.flat();
  const low = Math.min(...values);
  const range = Math.max(...values) - low || 1;
  const width = left + cell * matrix[0].length + 8;
  const height = top + cell * matrix.length + 8;
  const plot = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "partial energy heatmap" });
  data.weights_b.forEach((weight, j) => {
    plot.append(svg("text", { x: left + cell * (j + 0.5), y: top - 22, "text-anchor": "middle" }, `${data.b}:${j}`),
      svg("text", { x: left + cell * (j + 0.5), y: top - 6, "text-anchor": "middle", fill: "#5b6475" },
        `p=${fixed(weight, 2)}`));
  });
  matrix.forEach((row, i) => {
    plot.append(svg("text", { x: left - 10, y: top + cell * (i + 0.5) - 2, "text-anchor": "end" }, `${data.a}:${i}`),
      svg("text", { x: left - 10, y: top + cell * (i + 0.5) + 14, "text-anchor": "end", fill: "#5b6475" },
        `p=${fixed(data.weights_a[i], 2)}`));
    row.forEach((value, j) => {
      const [fill, ink] = shade((value - low) / range);
      plot.append(
        svg("rect", { x: left + cell * j, y: top + cell * i, width: cell - 2, height: cell - 2, fill, rx: 4 },
          svg("title", {}, `ξ(${data.a}:${i}, ${data.b}:${j}) = ${value}`)),
        svg("text", { x: left + cell * (j + 0.5) - 1, y: top + cell * (i + 0.5) + 4, "text-anchor": "middle", fill: ink },
          fixed(value, 2)),
      );
    });
  });
  return plot;
}

function renderMeasures(data) {
  const table = el("table", {}, el("tr", {}, el("th", {}, "measure"), el("th", {}, "value"), el("th", {}, "meaning")));
  for (const [name, value] of Object.entries(data.measures)) {
    table.append(el("tr", {}, el("td", {}, name), el("td", { class: "number" }, fixed(value, 4)),
      el("td", { class: "note" }, measureNotes[name] || "")));
  }
  return table;
}

function renderKl(data) {
  const table = el("table", {}, el("tr", {}, el("th", {}, "components i, j"),
    el("th", {}, `KL(${data.a}:i ‖ ${data.b}:j)`), el("th", {}, `KL(${data.b}:j ‖ ${data.a}:i)`)));
  data.kl_a_b.forEach((row, i) => {
    row.forEach((value, j) => {
      table.append(el("tr", {}, el("td", {}, `${data.a}:${i}, ${data.b}:${j}`),
        el("td", { class: "number" }, fixed(value, 3)), el("td", { class: "number" }, fixed(data.kl_b_a[j][i], 3))));
    });
  });
  return table;
}

// ------------------------------------------------------------------ forms
function wireForms() {
  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = document.getElementById("query").value.trim();
    if (key) {
      location.hash = "#/word/" + encodeURIComponent(key);
    }
  });
  document.getElementById("compare").addEventListener("submit", (event) => {
    event.preventDefault();
    const a = document.getElementById("pair-a").value.trim();
    const b = document.getElementById("pair-b").value.trim();
    if (a && b) {
      location.hash = `#/pair/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
    }
  });
  document.getElementById("k").addEventListener("change", route);

  // Suggestions for whichever box is being typed in, after a short pause, latest only.
  const list = document.getElementById("suggestions");
  let timer = 0;
  let asked = 0;
  for (const id of ["query", "pair-a", "pair-b"]) {
    document.getElementById(id).addEventListener("input", (event) => {
      clearTimeout(timer);
      const prefix = event.target.value.trim();
      if (!prefix) {
        return;
      }
      timer = setTimeout(async () => {
        const mine = ++asked;
        try {
          const words = await api("api/suggest", { prefix, limit: 10 });
          if (mine === asked) {
            list.replaceChildren(...words.map((word) => el("option", { value: word })));
          }
        } catch (error) {
          // A suggestion that fails (say a prefix too long) just offers nothing.
          list.replaceChildren();
        }
      }, 120);
    });
  }
}

async function start() {
  wireForms();
  window.addEventListener("hashchange", route);
  try {
    const info = await api("api/info");
    measureNotes = info.measures;
    document.getElementById("model-info").textContent =
      `${info.words.toLocaleString()} words · K = ${info.components} components · ` +
      `D = ${info.dim} · ${info.covariance} covariance`;
  } catch (error) {
    document.getElementById("model-info").textContent = "model information unavailable: " + error.message;
  }
  // After the measure notes have arrived, which the pair view shows.
  route();
}

start();
