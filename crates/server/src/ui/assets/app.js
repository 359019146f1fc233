// retrain's web UI script. Pages work without it; it only adds what a
// page does better with a script. It is the one script pages load (the
// Content-Security-Policy allows no other and no inline script), so each
// behaviour is switched on by a data- attribute in the markup.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // <form data-confirm="Promote version 3?">: ask before sending.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // <select data-autosubmit>: a choice sends its form.
  for (const input of document.querySelectorAll("[data-autosubmit]")) {
    input.addEventListener("change", () => input.form && input.form.requestSubmit());
  }

  // <svg data-chart>: hovering shows each line's value nearest the
  // pointer's x. The server draws the chart; this only reads the raw
  // values each line carries in data-values and the scales in data-frame.
  for (const svg of document.querySelectorAll("svg[data-chart]")) chartHover(svg);

  // ---- Pipelines ----
  // <pre class="log" data-tail="…/log?try=N" data-offset="BYTES"
  // data-next-line="N">: while the try runs, ask for what the log gained
  // since the offset every two seconds and append it, numbered lines with
  // their anchors like the server writes them; stop when the server says
  // the try has ended.
  for (const log of document.querySelectorAll("pre.log[data-tail]")) {
    let offset = Number(log.dataset.offset) || 0;
    let line = Number(log.dataset.nextLine) || 1;
    const append = (text) => {
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      for (const content of text.split("\n").slice(0, text.endsWith("\n") ? -1 : undefined)) {
        const row = document.createElement("span");
        row.id = "L" + line;
        const anchor = document.createElement("a");
        anchor.className = "line";
        anchor.href = "#L" + line;
        anchor.textContent = String(line);
        row.append(anchor, content);
        log.append(row, "\n");
        line += 1;
      }
      if (atBottom) log.scrollTop = log.scrollHeight;
    };
    const poll = async () => {
      let running = false;
      try {
        const reply = await fetch(log.dataset.tail + "&offset=" + offset, { credentials: "same-origin" });
        if (reply.ok) {
          const text = await reply.text();
          offset = Number(reply.headers.get("x-log-offset")) || offset;
          running = reply.headers.get("x-try-running") === "true";
          if (text) append(text);
        } else {
          running = reply.status >= 500;
        }
      } catch (_) {
        running = true; // the server is briefly out of reach: keep trying
      }
      if (running) {
        window.setTimeout(poll, 2000);
      } else {
        for (const note of document.querySelectorAll(".live-note")) note.textContent = "The try has ended; reload for its final state.";
      }
    };
    window.setTimeout(poll, 2000);
  }

  // ---- Experiments, runs and charts ----

  // ---- Models ----

  // ---- Variables and users ----
});

function chartHover(svg) {
  const [x0, x1, , , left, right, top, bottom] = svg.dataset.frame.split(" ").map(Number);
  const isTime = svg.dataset.xTime === "true";
  const lines = [...svg.querySelectorAll("polyline[data-values]")].map((line) => ({
    label: line.dataset.label,
    colour: [...line.classList].find((c) => /^s\d$/.test(c)),
    points: line.dataset.values.split(" ").map((p) => p.split(",").map(Number)),
  }));
  const ns = "http://www.w3.org/2000/svg";
  const guide = document.createElementNS(ns, "line");
  guide.setAttribute("class", "guide");
  guide.setAttribute("y1", top);
  guide.setAttribute("y2", bottom);
  guide.style.display = "none";
  svg.appendChild(guide);
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.hidden = true;
  svg.parentElement.appendChild(tip);
  const formatX = (x) => (isTime ? new Date(x).toISOString().replace("T", " ").slice(0, 19) : String(x));
  const nearest = (points, x) => {
    let lo = 0;
    let hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(points[lo - 1][0] - x) < Math.abs(points[lo][0] - x)) lo -= 1;
    return points[lo];
  };
  svg.addEventListener("mousemove", (event) => {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const local = point.matrixTransform(svg.getScreenCTM().inverse());
    if (local.x < left || local.x > right || lines.length === 0) return;
    const x = x0 + ((local.x - left) / (right - left)) * (x1 - x0);
    const rows = lines.map((line) => [line, nearest(line.points, x)]);
    const at = rows[0][1][0];
    guide.setAttribute("x1", local.x);
    guide.setAttribute("x2", local.x);
    guide.style.display = "";
    tip.replaceChildren();
    const head = document.createElement("div");
    head.textContent = formatX(at);
    tip.appendChild(head);
    for (const [line, [px, py]] of rows) {
      const row = document.createElement("div");
      const swatch = document.createElement("span");
      swatch.className = "swatch " + (line.colour || "");
      row.append(swatch, `${line.label}: ${py}` + (px === at ? "" : ` (at ${formatX(px)})`));
      tip.appendChild(row);
    }
    const box = svg.getBoundingClientRect();
    const offset = event.clientX - box.left;
    tip.style.left = offset > box.width / 2 ? "" : `${offset + 12}px`;
    tip.style.right = offset > box.width / 2 ? `${box.width - offset + 12}px` : "";
    tip.hidden = false;
  });
  svg.addEventListener("mouseleave", () => {
    guide.style.display = "none";
    tip.hidden = true;
  });
}
