// The run page of Aether: the DAG, the timeline of attempts, the events, the node panel and
// the time slider. The live UI and the self-contained report both run this file; they differ
// only in their source of data (httpSource asks the server, embeddedSource reads the data
// the report carries).
(function () {
  "use strict";

  const LEAF_W = 150, LEAF_H = 28, GAP_X = 36, GAP_Y = 8, PAD = 10, HEAD = 24;
  const COLUMN_LIMIT = 40;        // a layer with more nodes wraps into several columns
  const LOOP_HEAD = 8, LOOP_TAIL = 3; // a loop with more iterations shows these and a summary
  const LAYER_LIMIT = 60, LAYER_HEAD = 40; // a DAG layer with more nodes shows the first ones and a summary
  const TIMELINE_ROW = 18, TIMELINE_TOP = 22, TIMELINE_OVERSCAN = 20; // rows are drawn only as they scroll into sight
  const EVENT_WINDOW = 60;
  const TERMINAL = new Set(["Succeeded", "Failed", "Error", "Timeout", "Cancelled", "Skipped"]);

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function fmtTime(ms) {
    return ms === null || ms === undefined ? "" : new Date(ms).toISOString().replace("T", " ").replace("Z", "");
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || ms < 0) return "";
    if (ms < 1000) return ms + "ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m" + Math.round(s - m * 60) + "s";
    return Math.floor(m / 60) + "h" + (m % 60) + "m";
  }

  function phaseAt(flat, seq, names) {
    let found = null;
    for (let i = 0; i < flat.length && flat[i] <= seq; i += 2) found = flat[i + 1];
    return found === null ? null : names[found];
  }

  // --- the document as the server and the report send it ------------------------------------

  // The packed document (aether/ui/packing.py) back to the plain one the page reads:
  // strings are written once and referred to by place, times are after baseMs (an event's
  // after the previous event's), nodes and attempts are rows, and "\u0000" at the head of an
  // event's summary stands for its node's id.
  function unpack(packed) {
    if (packed.format !== 2) return packed;
    const strings = packed.strings, base = packed.baseMs;
    const text = (place) => (place === null ? null : strings[place]);
    const time = (ms) => (ms === null ? null : ms + base);
    const ids = packed.nodes.map((row) => row[0]);
    const nodes = packed.nodes.map((row) => ({
      id: row[0], parent: row[1] >= 0 ? ids[row[1]] : null, name: row[2], template: text(row[3]), type: text(row[4]),
      index: row[5], deps: row[6], created: row[7].length ? row[7][0] : 0, phases: row[7], message: text(row[8]),
      inputs: row[9], outputs: row[10], retryCount: row[11],
      attempts: row[12].map((a) => ({
        n: a[0], reason: text(a[1]), worker: text(a[2]), dispatchedMs: time(a[3]), startedMs: time(a[4]),
        finishedMs: time(a[5]), phase: text(a[6]), code: a[7], message: text(a[8]), seqs: a[9],
      })),
      startedMs: time(row[13]), finishedMs: time(row[14]), logs: row[15],
    }));
    const events = [], packedEvents = packed.events;
    let clock = base;
    for (let i = 0; i < packedEvents.length; i += 4) {
      const step = packedEvents[i], node = packedEvents[i + 2];
      let summary = strings[packedEvents[i + 3]];
      if (node >= 0 && summary.charCodeAt(0) === 0) summary = ids[node] + summary.slice(1);
      events.push([i / 4 + 1, step === null ? null : (clock += step), strings[packedEvents[i + 1]], node, summary]);
    }
    return {
      format: 1, run: packed.run, lastSeq: packed.lastSeq, terminal: packed.terminal, phaseNames: packed.phaseNames,
      runPhases: packed.runPhases, nodes: nodes, events: events,
    };
  }

  // The outline of a run (aether/ui/run_data.py, run_outline): its nodes and their phases at
  // its last event, read from its view alone, so the graph is drawn before the whole
  // document (attempts, phase changes, events) has been read. The document it stands in
  // for says it is provisional.
  function fromOutline(outline) {
    const ids = outline.nodes.map((row) => row[0]), phases = {};
    const nodes = outline.nodes.map((row) => {
      phases[row[0]] = outline.phaseNames[row[7]];
      return {
        id: row[0], parent: row[1] >= 0 ? ids[row[1]] : null, name: row[2], template: row[3], type: row[4], index: row[5],
        deps: row[6], created: 0, phases: [], message: "", inputs: {}, outputs: {}, retryCount: 0, attempts: [],
        startedMs: null, finishedMs: null, logs: null,
      };
    });
    const data = {
      format: 1, provisional: true, run: outline.run, lastSeq: outline.lastSeq, terminal: outline.terminal,
      phaseNames: outline.phaseNames, runPhases: [], nodes: nodes, events: [],
    };
    return { data: data, view: { seq: outline.lastSeq, run: outline.run.phase, nodes: phases } };
  }

  // What changed after the event a live page has (aether/ui/run_data.py, RunDocument.since),
  // applied to its document.
  function applyChanges(data, changes) {
    for (const row of changes.events) {
      if (row[0] === data.events.length + 1) data.events.push(row);
    }
    for (const node of changes.nodes) {
      const number = node.number;
      delete node.number;
      data.nodes[number] = node;
    }
    data.run = changes.run;
    data.lastSeq = changes.lastSeq;
    data.terminal = changes.terminal;
    data.runPhases = changes.runPhases;
    return data;
  }

  // --- what the report computes from its own data -------------------------------------------

  function phasesFromData(data, seq) {
    const nodes = {};
    for (const node of data.nodes) {
      if (node.created > seq) break; // creation order is event order
      const phase = phaseAt(node.phases, seq, data.phaseNames);
      if (phase !== null) nodes[node.id] = phase;
    }
    return { seq: seq, run: phaseAt(data.runPhases, seq, data.phaseNames), nodes: nodes };
  }

  function attemptsAt(node, seq) {
    const out = [];
    for (const attempt of node.attempts) {
      const [dispatched, started, finished] = attempt.seqs;
      if (dispatched === null || dispatched > seq) continue;
      const shown = Object.assign({}, attempt);
      if (started === null || started > seq) shown.startedMs = null;
      if (finished === null || finished > seq) {
        shown.finishedMs = null; shown.phase = null; shown.code = null; shown.message = "";
      }
      out.push(shown);
    }
    return out;
  }

  function auditOf(node, names) {
    const out = [];
    let previous = null;
    for (let i = 0; i < node.phases.length; i += 2) {
      const phase = names[node.phases[i + 1]];
      out.push({ seq: node.phases[i], from: previous, to: phase });
      previous = phase;
    }
    return out;
  }

  function nodeFromData(data, id, seq) {
    const node = data.nodes.find((n) => n.id === id);
    if (!node || node.created > seq) return null;
    const phase = phaseAt(node.phases, seq, data.phaseNames);
    const attempts = attemptsAt(node, seq);
    const done = TERMINAL.has(phase);
    return {
      id: node.id, type: node.type, template: node.template, phase: phase,
      message: done ? node.message : "",
      inputs: attempts.length || done ? node.inputs : {},
      outputs: done ? node.outputs : {},
      attempts: attempts,
      audit: auditOf(node, data.phaseNames),
      logs: done || attempts.length ? node.logs : null,
    };
  }

  function diffFromData(data, a, b) {
    const before = phasesFromData(data, a), after = phasesFromData(data, b);
    const nodes = [];
    for (const id of Object.keys(after.nodes)) {
      if (!(id in before.nodes)) nodes.push({ id: id, change: "created", phase: [null, after.nodes[id]] });
      else if (before.nodes[id] !== after.nodes[id]) nodes.push({ id: id, change: "updated", phase: [before.nodes[id], after.nodes[id]] });
    }
    for (const id of Object.keys(before.nodes)) {
      if (!(id in after.nodes)) nodes.push({ id: id, change: "removed", phase: [before.nodes[id], null] });
    }
    const result = { runId: data.run.runId, nodes: nodes };
    if (before.run !== after.run) result.phase = [before.run, after.run];
    return result;
  }

  function embeddedSource(document) {
    const data = unpack(document);
    return {
      live: false,
      load: () => Promise.resolve(data),
      changes: null,
      outline: null,
      phasesAt: (seq) => Promise.resolve(phasesFromData(data, seq)),
      nodeAt: (id, seq) => Promise.resolve(nodeFromData(data, id, seq)),
      diff: (a, b) => Promise.resolve(diffFromData(data, a, b)),
      subscribe: null,
      actions: null,
    };
  }

  // --- what the live page asks the server ---------------------------------------------------

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then((response) => {
      if (!response.ok) throw new Error(url + ": " + response.status);
      return response.json();
    });
  }

  function httpSource(runId, allowActions) {
    const base = "/api/runs/" + encodeURIComponent(runId);
    const post = (path, body) => fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
    }).then((response) => response.json().then((answer) => {
      if (!response.ok) throw new Error(answer.error || response.status);
      return answer;
    }));
    return {
      live: true,
      load: () => getJSON(base).then(unpack),
      changes: (since) => getJSON(base + "/changes?since=" + since),
      outline: () => getJSON(base + "/outline").then(fromOutline),
      phasesAt: (seq) => getJSON(base + "/phases?at=" + seq),
      nodeAt: (id, seq) => getJSON(base + "/node?id=" + encodeURIComponent(id) + "&at=" + seq),
      diff: (a, b) => getJSON(base + "/diff?a=" + a + "&b=" + b),
      subscribe: (onChange) => {
        const stream = new EventSource(base + "/stream");
        stream.onmessage = (message) => onChange(JSON.parse(message.data));
        return stream;
      },
      actions: allowActions ? {
        cancel: () => post("/cancel"),
        retry: () => post("/retry"),
        resume: (node) => post("/resume", { node: node }),
      } : null,
    };
  }

  // --- the graph ----------------------------------------------------------------------------

  function buildTree(data, count) {
    const byId = new Map(), roots = [];
    for (let i = 0; i < count; i++) {
      const node = data.nodes[i];
      const item = { node: node, children: [] };
      byId.set(node.id, item);
      const parent = node.parent !== null ? byId.get(node.parent) : undefined;
      if (parent) parent.children.push(item); else roots.push(item);
    }
    return { byId: byId, roots: roots };
  }

  function isContainer(item) { return item.node.type === "dag" || item.node.type === "loop"; }

  function countPhases(items, phases, into) {
    for (const item of items) {
      const phase = phases[item.node.id] || "Created";
      into[phase] = (into[phase] || 0) + 1;
    }
    return into;
  }

  function phaseCounts(counts) {
    return Object.keys(counts).map((phase) => counts[phase] + " " + phase).join(" · ");
  }

  function descendants(item, out) {
    for (const child of item.children) { out.push(child); descendants(child, out); }
    return out;
  }

  function summary(hidden, key, what) {
    return { summary: hidden, expand: key, what: what, w: LEAF_W + 60, h: LEAF_H + 14, children: [], columns: [] };
  }

  function measure(item, collapsed, expanded) {
    item.collapsed = isContainer(item) && (collapsed.has(item.node.id) || item.children.length === 0);
    if (!isContainer(item) || item.collapsed) {
      item.w = LEAF_W; item.h = isContainer(item) ? LEAF_H + 14 : LEAF_H; item.columns = [];
      return;
    }
    for (const child of item.children) measure(child, collapsed, expanded);
    let columns;
    if (item.node.type === "loop") {
      let shown = item.children, hidden = [];
      const key = item.node.id + "#loop";
      if (item.children.length > LOOP_HEAD + LOOP_TAIL + 1 && !expanded.has(key)) {
        shown = item.children.slice(0, LOOP_HEAD).concat(item.children.slice(item.children.length - LOOP_TAIL));
        hidden = item.children.slice(LOOP_HEAD, item.children.length - LOOP_TAIL);
        shown.splice(LOOP_HEAD, 0, summary(hidden, key, "iterations"));
      }
      columns = [shown];
    } else {
      const depth = new Map();
      const siblings = new Map(item.children.map((child) => [child.node.name, child]));
      const depthOf = (child) => {
        if (depth.has(child.node.id)) return depth.get(child.node.id);
        depth.set(child.node.id, 0);
        let d = 0;
        for (const name of child.node.deps) {
          const dep = siblings.get(name);
          if (dep) d = Math.max(d, depthOf(dep) + 1);
        }
        depth.set(child.node.id, d);
        return d;
      };
      const layers = [];
      for (const child of item.children) {
        const d = depthOf(child);
        (layers[d] = layers[d] || []).push(child);
      }
      columns = [];
      layers.forEach((layer, number) => {
        const key = item.node.id + "#" + number;
        if (layer.length > LAYER_LIMIT && !expanded.has(key)) {
          layer = layer.slice(0, LAYER_HEAD).concat([summary(layer.slice(LAYER_HEAD), key, "tasks at this depth")]);
        }
        for (let i = 0; i < layer.length; i += COLUMN_LIMIT) columns.push(layer.slice(i, i + COLUMN_LIMIT));
      });
    }
    item.columns = columns;
    let x = PAD, tallest = 0;
    for (const column of columns) {
      let y = HEAD, widest = 0;
      for (const child of column) {
        child.x = x; child.y = y;
        y += child.h + GAP_Y;
        widest = Math.max(widest, child.w);
      }
      tallest = Math.max(tallest, y - GAP_Y);
      x += widest + GAP_X;
    }
    item.w = Math.max(x - GAP_X + PAD, LEAF_W + 2 * PAD);
    item.h = Math.max(tallest, HEAD + LEAF_H) + PAD;
  }

  function label(node) {
    let text = node.index !== null && node.index !== undefined ? "[" + node.index + "] " + node.name : node.name;
    if (text.length > 20) text = text.slice(0, 19) + "…";
    return text;
  }

  function drawItem(item, ax, ay, phases, out, edges, positions) {
    if (item.summary) {
      const counts = phaseCounts(countPhases(item.summary, phases, {}));
      out.push('<g class="summary" data-expand="' + esc(item.expand) + '" transform="translate(' + ax + "," + ay + ')"><title>show them all</title><rect width="' + item.w + '" height="' + item.h +
        '" rx="4"/><text x="8" y="17">… ' + item.summary.length + " more " + item.what + '</text><text class="sub" x="8" y="33">' +
        esc(counts) + "</text></g>");
      return;
    }
    const node = item.node, phase = phases[node.id] || "Created";
    positions.set(node.id, { x: ax, y: ay, w: item.w, h: item.h });
    const kind = isContainer(item) ? (item.collapsed ? "container collapsed" : "container") : "leaf";
    out.push('<g class="node ' + kind + '" data-node-id="' + esc(node.id) + '" data-phase="' + phase +
      '" transform="translate(' + ax + "," + ay + ')"><title>' + esc(node.id + " — " + phase) + "</title>");
    out.push('<rect width="' + item.w + '" height="' + item.h + '" rx="4"/>');
    if (isContainer(item)) {
      const mark = item.children.length === 0 ? "" : item.collapsed ? "▸ " : "▾ ";
      out.push('<text class="toggle" x="8" y="16">' + mark + esc(label(node)) + ' <tspan class="sub">' + esc(node.type) +
        (node.template ? " " + esc(node.template) : "") + "</tspan></text>");
      if (item.collapsed && item.children.length) {
        out.push('<text class="sub" x="8" y="34">' + esc(phaseCounts(countPhases(descendants(item, []), phases, {}))) + "</text>");
      }
    } else {
      out.push('<text x="8" y="18">' + esc(label(node)) + "</text>");
    }
    out.push("</g>");
    if (item.collapsed) return;
    for (const column of item.columns) {
      for (const child of column) drawItem(child, ax + child.x, ay + child.y, phases, out, edges, positions);
    }
    if (node.type === "dag") {
      for (const child of item.children) {
        for (const name of child.node.deps) edges.push([node.id + "/" + name, child.node.id]);
      }
    }
  }

  function drawGraph(svg, data, view, collapsed, expanded) {
    const count = Object.keys(view.nodes).length;
    const tree = buildTree(data, Math.min(count, data.nodes.length));
    const out = [], edges = [], positions = new Map();
    let y = PAD, width = 0;
    for (const root of tree.roots) {
      measure(root, collapsed, expanded);
      drawItem(root, PAD, y, view.nodes, out, edges, positions);
      y += root.h + GAP_Y;
      width = Math.max(width, root.w);
    }
    const paths = [];
    for (const [from, to] of edges) {
      const a = positions.get(from), b = positions.get(to);
      if (!a || !b) continue;
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mid = (x1 + x2) / 2;
      paths.push('<path d="M' + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + x2 + "," + y2 + '"/>');
    }
    svg.setAttribute("width", width + 2 * PAD);
    svg.setAttribute("height", y + PAD);
    svg.innerHTML = '<g class="edges">' + paths.join("") + "</g>" + out.join("");
  }

  // --- the timeline -------------------------------------------------------------------------

  function timeAt(data, seq) {
    const event = data.events[Math.max(0, Math.min(seq, data.events.length) - 1)];
    return event && event[1] !== null ? event[1] : null;
  }

  // Every task with an attempt has a row, in creation order; the drawing holds the rows in
  // sight (and a margin) only, and is redrawn as the card scrolls, so a run of any size
  // scrolls through all of its tasks. The scale spans the run's start to the shown point.
  function timelineRows(data, view) {
    const seq = view.seq, rows = [];
    let start = Date.parse(data.run.createdAt) || timeAt(data, seq) || 0;
    const now = timeAt(data, seq);
    let end = now === null ? start + 1 : now;
    for (const node of data.nodes) {
      if (!(node.id in view.nodes)) break;
      let shown = false;
      for (const a of node.attempts) {
        if (a.seqs[0] === null || a.seqs[0] > seq) continue;
        shown = true;
        end = Math.max(end, a.seqs[2] !== null && a.seqs[2] <= seq && a.finishedMs !== null ? a.finishedMs : a.dispatchedMs);
      }
      if (shown) rows.push(node);
    }
    return { rows: rows, start: start, end: end, now: now, seq: seq };
  }

  function drawTimeline(svg, note, data, view) {
    const timeline = timelineRows(data, view);
    svg.aetherTimeline = { timeline: timeline, view: view };
    note.textContent = data.provisional ? "reading the run's history…" : timeline.rows.length +
      (timeline.rows.length === 1 ? " task" : " tasks") + (timeline.rows.length > 40 ? " (scroll for every one)" : "");
    svg.setAttribute("width", 960);
    svg.setAttribute("height", TIMELINE_TOP + 8 + timeline.rows.length * TIMELINE_ROW);
    drawTimelineWindow(svg);
  }

  function drawTimelineWindow(svg) {
    const drawn = svg.aetherTimeline;
    if (!drawn) return;
    const { timeline, view } = drawn, rows = timeline.rows, seq = timeline.seq, start = timeline.start, end = timeline.end;
    const card = svg.parentNode, top = card.scrollTop, seen = card.clientHeight || 600;
    const first = Math.max(0, Math.floor((top - TIMELINE_TOP) / TIMELINE_ROW) - TIMELINE_OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((top + seen - TIMELINE_TOP) / TIMELINE_ROW) + TIMELINE_OVERSCAN);
    const labelW = 220, width = 960, rowH = TIMELINE_ROW, span = Math.max(end - start, 1);
    const x = (ms) => labelW + ((ms - start) / span) * (width - labelW - 10);
    const out = [];
    for (let i = first; i < last; i++) {
      const node = rows[i], attempts = attemptsAt(node, seq), y = TIMELINE_TOP + i * rowH;
      out.push('<g class="row" data-node-id="' + esc(node.id) + '" data-phase="' + (view.nodes[node.id] || "") +
        '"><text x="4" y="' + (y + 12) + '">' + esc(node.id.length > 32 ? "…" + node.id.slice(-31) : node.id) + "</text>");
      let previousEnd = null;
      for (const a of attempts) {
        const started = a.startedMs, finished = a.finishedMs;
        if (previousEnd !== null && a.dispatchedMs > previousEnd) {
          out.push('<line class="retry-wait" x1="' + x(previousEnd) + '" x2="' + x(a.dispatchedMs) + '" y1="' + (y + 8) + '" y2="' + (y + 8) + '"/>');
        }
        const waitEnd = started !== null ? started : finished !== null ? finished : end;
        out.push('<rect class="wait" x="' + x(a.dispatchedMs) + '" y="' + (y + 4) + '" width="' + Math.max(1, x(waitEnd) - x(a.dispatchedMs)) +
          '" height="8"><title>attempt ' + a.n + " (" + esc(a.reason) + ") waiting " + fmtDuration(waitEnd - a.dispatchedMs) + "</title></rect>");
        if (started !== null) {
          const runEnd = finished !== null ? finished : end;
          out.push('<rect class="attempt" data-phase="' + (a.phase || "Running") + '" x="' + x(started) + '" y="' + (y + 1) +
            '" width="' + Math.max(2, x(runEnd) - x(started)) + '" height="14"><title>attempt ' + a.n + " (" + esc(a.reason) + ") " +
            (a.phase || "Running") + " " + fmtDuration(runEnd - started) + "</title></rect>");
        }
        previousEnd = finished;
      }
      out.push("</g>");
    }
    const height = TIMELINE_TOP + 8 + rows.length * rowH;
    if (timeline.now !== null) out.push('<line class="cursor" x1="' + x(timeline.now) + '" x2="' + x(timeline.now) + '" y1="0" y2="' + height + '"/>');
    // The axis stays at the top of the card however far it is scrolled.
    const axisY = Math.max(0, top) + 12;
    out.push('<rect class="axis-band" x="0" y="' + (axisY - 12) + '" width="' + width + '" height="16"/>');
    out.push('<text class="axis" x="' + labelW + '" y="' + axisY + '">' + esc(fmtTime(start)) + '</text><text class="axis" x="' + (width - 10) +
      '" y="' + axisY + '" text-anchor="end">+' + esc(fmtDuration(end - start)) + "</text>");
    svg.innerHTML = out.join("");
  }

  // --- the page -----------------------------------------------------------------------------

  function start(source, root) {
    const $ = (selector) => root.querySelector(selector);
    const params = new URLSearchParams(window.location.search);
    const state = { data: null, seq: 0, follow: true, selected: params.get("node"), collapsed: new Set(), expanded: new Set(), view: null, request: 0 };
    const slider = $("#at-slider");

    function setURL() {
      const query = new URLSearchParams(window.location.search);
      if (state.follow) query.delete("at"); else query.set("at", String(state.seq));
      if (state.selected) query.set("node", state.selected); else query.delete("node");
      const text = query.toString();
      try {
        window.history.replaceState(null, "", window.location.pathname + (text ? "?" + text : "") + window.location.hash);
      } catch (e) { /* a file:// page may refuse; the slider still works */ }
    }

    function describeEvent(seq) {
      const event = state.data.events[seq - 1];
      if (!event) return "";
      return "#" + seq + " " + event[2] + " " + event[4] + (event[1] !== null ? " — " + fmtTime(event[1]) : "");
    }

    function renderEvents() {
      const list = $("#events"), seq = state.seq, events = state.data.events;
      const from = Math.max(0, seq - EVENT_WINDOW / 2), to = Math.min(events.length, from + EVENT_WINDOW);
      const rows = [];
      for (let i = from; i < to; i++) {
        const [number, at, type, , summary] = events[i];
        const cls = number === seq ? "current" : number > seq ? "future" : "";
        rows.push('<tr class="' + cls + '" data-seq="' + number + '"><td>' + number + "</td><td>" + esc(fmtTime(at)) +
          "</td><td>" + esc(type) + "</td><td>" + esc(summary) + "</td></tr>");
      }
      list.innerHTML = rows.join("");
      $("#events-note").textContent = state.data.provisional ? "reading the run's history…" :
        "events " + (from + 1) + "–" + to + " of " + events.length;
    }

    function renderRun(view) {
      const run = state.data.run;
      $("#run-title").textContent = run.name + " " + run.runId;
      const phase = view.run || run.phase;
      const badge = $("#run-phase");
      badge.textContent = phase;
      badge.setAttribute("data-phase", phase);
      const finished = TERMINAL.has(phase) && run.finishedAt ? " · finished " + run.finishedAt + " · " + run.duration : "";
      $("#run-times").textContent = "created " + run.createdAt + finished;
      $("#at-label").textContent = "after event " + state.seq + " of " + state.data.lastSeq + (state.follow && !state.data.terminal ? " (following)" : "") +
        ": " + describeEvent(state.seq);
    }

    function renderPanel() {
      const panel = $("#node-panel");
      if (!state.selected) { panel.innerHTML = '<p class="hint">Select a node to see its inputs, outputs, attempts and history.</p>'; return; }
      const id = state.selected, seq = state.seq, ticket = ++state.request;
      source.nodeAt(id, seq).then((node) => {
        if (ticket !== state.request) return;
        if (!node) { panel.innerHTML = "<h3>" + esc(id) + '</h3><p class="hint">This node did not exist yet after event ' + seq + ".</p>"; return; }
        const html = ['<h3 data-node-id="' + esc(node.id) + '" data-phase="' + esc(node.phase) + '">' + esc(node.id) +
          ' <span class="badge" data-phase="' + esc(node.phase) + '">' + esc(node.phase) + "</span></h3>"];
        html.push('<p class="sub">' + esc(node.type) + (node.template ? " · template " + esc(node.template) : "") + "</p>");
        if (node.message) html.push('<p class="message">' + esc(node.message) + "</p>");
        html.push("<h4>Inputs</h4><pre>" + esc(JSON.stringify(node.inputs, null, 2)) + "</pre>");
        html.push("<h4>Outputs</h4><pre>" + esc(JSON.stringify(node.outputs, null, 2)) + "</pre>");
        if (node.attempts.length) {
          html.push("<h4>Attempts</h4><table><tr><th>#</th><th>reason</th><th>started</th><th>took</th><th>ended (code)</th><th>message</th></tr>");
          for (const a of node.attempts) {
            // The time of day only, so the table fits the panel; the date is in its title.
            html.push("<tr><td>" + a.n + "</td><td>" + esc(a.reason) + '</td><td title="' + esc(fmtTime(a.startedMs)) + '">' +
              esc(fmtTime(a.startedMs).slice(11)) + "</td><td>" +
              esc(a.finishedMs !== null && a.startedMs !== null ? fmtDuration(a.finishedMs - a.startedMs) : "") + "</td><td>" +
              esc((a.phase || "") + (a.code === null ? "" : " (" + a.code + ")")) + "</td><td>" + esc(a.message) + "</td></tr>");
          }
          html.push("</table>");
        }
        const logs = node.logs || {};
        const stdout = logs.stdout !== undefined ? logs.stdout : node.outputs && node.outputs.stdout;
        const stderr = logs.stderr !== undefined ? logs.stderr : node.outputs && node.outputs.stderr;
        if (stdout || stderr) {
          html.push("<h4>Logs</h4>");
          if (stdout) html.push('<pre class="log">' + esc(stdout) + "</pre>");
          if (stderr) html.push('<pre class="log stderr">' + esc(stderr) + "</pre>");
        }
        html.push('<h4>Audit trail</h4><ol class="audit">');
        for (const entry of node.audit) {
          html.push('<li data-seq="' + entry.seq + '" class="' + (entry.seq > seq ? "future" : "") + '">#' + entry.seq + " " +
            esc(entry.from || "(new)") + " → " + esc(entry.to) + (entry.message ? ": " + esc(entry.message) : "") + "</li>");
        }
        html.push("</ol>");
        if (source.actions && node.phase === "Suspended") html.push('<button id="resume-node">Resume this task</button>');
        panel.innerHTML = html.join("");
        const resume = panel.querySelector("#resume-node");
        if (resume) resume.onclick = () => source.actions.resume(id).then(update, (error) => alert(error.message));
      }).catch((error) => { panel.textContent = "cannot load " + id + ": " + error.message; });
    }

    function applyView(view) {
      state.view = view;
      renderRun(view);
      drawGraph($("#graph"), state.data, view, state.collapsed, state.expanded);
      for (const element of root.querySelectorAll('#graph [data-node-id="' + CSS.escape(state.selected || "") + '"]')) element.classList.add("selected");
      drawTimeline($("#timeline"), $("#timeline-note"), state.data, view);
      renderEvents();
      renderPanel();
      root.setAttribute("data-shown-seq", String(view.seq));
      root.setAttribute("data-graph-seq", String(view.seq));
    }

    // Draws the graph from the run's outline while the whole document is read, when the
    // page shows the run's last event (an earlier point needs the document).
    function sketch(outline) {
      if (state.data) return; // the document came first
      const last = outline.data.lastSeq;
      if (!state.follow && state.seq !== last) return;
      state.data = outline.data;
      state.seq = last;
      slider.max = String(last);
      slider.value = String(last);
      applyView(outline.view);
      root.setAttribute("data-loading", "true");
    }

    function show(seq) {
      state.seq = Math.max(1, Math.min(seq, state.data.lastSeq));
      slider.value = String(state.seq);
      setURL();
      const ticket = ++state.request;
      root.setAttribute("data-loading", "true");
      source.phasesAt(state.seq).then((view) => {
        if (ticket !== state.request) return;
        if (Object.keys(view.nodes).length > state.data.nodes.length && !state.reloaded) {
          state.reloaded = true; // the run moved on since its document was read: catch up, once
          update();
          return;
        }
        state.reloaded = false;
        applyView(view);
        root.removeAttribute("data-loading");
      }).catch((error) => { $("#at-label").textContent = "cannot load event " + state.seq + ": " + error.message; });
    }

    function adopt(data) {
      state.data = data;
      slider.max = String(data.lastSeq);
      slider.min = "1";
      if (state.follow) state.seq = data.lastSeq;
      $("#diff-b").value = $("#diff-b").value || String(data.lastSeq);
      $("#diff-a").value = $("#diff-a").value || "1";
      $("#run-actions").hidden = !source.actions;
      show(state.seq);
    }

    function refresh() { return source.load().then(adopt); }

    // Brings the document up to the run's last event by asking only for what changed after
    // the event it has; one request at a time, and one more if the run moved meanwhile.
    let updating = null, again = false;
    function update() {
      if (!source.changes) return refresh();
      if (state.data.provisional) return Promise.resolve(); // the whole document is on its way
      if (updating) { again = true; return updating; }
      updating = source.changes(state.data.lastSeq).then((changes) => adopt(applyChanges(state.data, changes)))
        .catch((error) => { $("#at-label").textContent = "cannot update the run: " + error.message; })
        .then(() => {
          updating = null;
          if (again) { again = false; update(); }
        });
      return updating;
    }

    slider.addEventListener("input", () => {
      state.follow = Number(slider.value) >= state.data.lastSeq && !state.data.terminal;
      show(Number(slider.value));
    });
    $("#step-back").onclick = () => { state.follow = false; show(state.seq - 1); };
    $("#step-forward").onclick = () => { show(state.seq + 1); };
    $("#latest").onclick = () => { state.follow = true; show(state.data.lastSeq); };
    let timelineFrame = 0;
    $("#timeline").parentNode.addEventListener("scroll", () => {
      if (!timelineFrame) timelineFrame = requestAnimationFrame(() => { timelineFrame = 0; drawTimelineWindow($("#timeline")); });
    }, { passive: true });
    $("#timeline").addEventListener("click", (event) => {
      const row = event.target.closest("[data-node-id]");
      if (!row) return;
      state.selected = row.getAttribute("data-node-id");
      setURL();
      applyView(state.view);
    });
    $("#graph").addEventListener("click", (event) => {
      const more = event.target.closest("[data-expand]");
      if (more) {
        state.expanded.add(more.getAttribute("data-expand"));
        applyView(state.view);
        return;
      }
      const target = event.target.closest("[data-node-id]");
      if (!target) return;
      const id = target.getAttribute("data-node-id");
      if (event.target.closest(".toggle")) {
        if (state.collapsed.has(id)) state.collapsed.delete(id); else state.collapsed.add(id);
      }
      state.selected = id;
      setURL();
      applyView(state.view);
    });
    $("#events").addEventListener("click", (event) => {
      const row = event.target.closest("[data-seq]");
      if (row) { state.follow = false; show(Number(row.getAttribute("data-seq"))); }
    });
    $("#node-panel").addEventListener("click", (event) => {
      const row = event.target.closest("li[data-seq]");
      if (row) { state.follow = false; show(Number(row.getAttribute("data-seq"))); }
    });
    $("#diff-run").onclick = () => {
      const a = Number($("#diff-a").value), b = Number($("#diff-b").value);
      source.diff(a, b).then((changes) => {
        const lines = [];
        if (changes.phase) lines.push("<li>run: " + esc(changes.phase[0]) + " → " + esc(changes.phase[1]) + "</li>");
        for (const node of changes.nodes) {
          const phase = node.phase ? ": " + esc(node.phase[0] || "—") + " → " + esc(node.phase[1] || "—") : "";
          lines.push('<li data-node-id="' + esc(node.id) + '">' + esc(node.id) + " (" + esc(node.change) + ")" + phase + "</li>");
        }
        $("#diff-result").innerHTML = lines.length ? lines.join("") : "<li>nothing changed</li>";
      }).catch((error) => { $("#diff-result").textContent = error.message; });
    };
    if (source.actions) {
      const act = (name) => () => source.actions[name]().then((answer) => {
        if (answer.runId && answer.runId !== state.data.run.runId) window.location.href = "/runs/" + encodeURIComponent(answer.runId);
        else update();
      }, (error) => alert(error.message));
      $("#cancel-run").onclick = act("cancel");
      $("#retry-run").onclick = act("retry");
    }

    const requested = Number(params.get("at"));
    if (requested > 0) { state.follow = false; state.seq = requested; }
    if (source.outline) source.outline().then(sketch, () => { /* the document will say what is wrong */ });
    refresh().then(() => {
      if (source.subscribe) {
        source.subscribe((message) => {
          if (message.lastSeq !== state.data.lastSeq) update();
        });
      }
    }).catch((error) => { $("#at-label").textContent = "cannot load the run: " + error.message; });
  }

  window.AetherRun = { start: start, embeddedSource: embeddedSource, httpSource: httpSource, phasesFromData: phasesFromData, unpack: unpack };
})();
