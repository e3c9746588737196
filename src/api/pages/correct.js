// The study page's outline editor (plain browser JavaScript, served as is: no build step).
// Each figure holds its image's size and findings (data-columns, data-rows, data-findings).
// "Correct outlines" lays an SVG over the image without Sentinel's marks: drag a point to move
// it, "Delete" removes the selected finding, "Draw" adds points where clicked and "Finish"
// closes the new outline. "Save correction" sends every image's findings, as the reader leaves
// them, to POST /studies/{uid}/corrections (the session cookie signs it in).
(function () {
  'use strict';
  const NS = 'http://www.w3.org/2000/svg';
  const figures = [...document.querySelectorAll('figure[data-image]')];
  const state = new Map(figures.map((fig) => [fig, JSON.parse(fig.dataset.findings || '[]')]));
  const bar = document.getElementById('correction');
  if (!bar) return;
  const status = bar.querySelector('.status');

  function editor(fig) {
    const columns = Number(fig.dataset.columns), rows = Number(fig.dataset.rows);
    const img = fig.querySelector('img');
    img.src = img.src.split('?')[0] + '?plain=1';
    const wrap = document.createElement('div');
    wrap.className = 'editor';
    img.replaceWith(wrap);
    wrap.appendChild(img);
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${columns} ${rows}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    wrap.appendChild(svg);
    const tools = document.createElement('div');
    tools.className = 'tools';
    tools.innerHTML = '<button type="button" data-act="draw">Draw</button> <button type="button" data-act="finish" disabled>Finish</button> <button type="button" data-act="delete" disabled>Delete</button>';
    fig.appendChild(tools);
    const r = Math.max(3, columns / 120);
    let selected = -1, drawing = null, dragging = null;

    const toImage = (ev) => {
      const box = svg.getBoundingClientRect();
      return { x: Math.min(columns, Math.max(0, ((ev.clientX - box.left) / box.width) * columns)), y: Math.min(rows, Math.max(0, ((ev.clientY - box.top) / box.height) * rows)) };
    };
    function render() {
      svg.replaceChildren();
      const all = [...state.get(fig), ...(drawing ? [{ contour: drawing, drawing: true }] : [])];
      all.forEach((f, k) => {
        const poly = document.createElementNS(NS, f.drawing ? 'polyline' : 'polygon');
        poly.setAttribute('points', f.contour.map((p) => `${p.x},${p.y}`).join(' '));
        poly.setAttribute('class', k === selected ? 'outline selected' : 'outline');
        poly.dataset.finding = f.trackingId || 'new';
        poly.addEventListener('pointerdown', (ev) => { if (drawing) return; ev.stopPropagation(); selected = k; tools.querySelector('[data-act=delete]').disabled = false; render(); });
        svg.appendChild(poly);
        f.contour.forEach((p, i) => {
          const c = document.createElementNS(NS, 'circle');
          c.setAttribute('cx', p.x); c.setAttribute('cy', p.y); c.setAttribute('r', r);
          c.setAttribute('class', 'handle');
          c.dataset.finding = f.trackingId || 'new';
          c.dataset.point = String(i);
          c.addEventListener('pointerdown', (ev) => { if (drawing) return; ev.stopPropagation(); ev.preventDefault(); dragging = { f, i }; selected = k; svg.setPointerCapture(ev.pointerId); });
          svg.appendChild(c);
        });
      });
    }
    svg.addEventListener('pointermove', (ev) => {
      if (!dragging) return;
      dragging.f.contour[dragging.i] = toImage(ev);
      dragging.f.edited = true;
      render();
    });
    svg.addEventListener('pointerup', () => { dragging = null; });
    svg.addEventListener('pointerdown', (ev) => {
      if (!drawing) return;
      drawing.push(toImage(ev));
      tools.querySelector('[data-act=finish]').disabled = drawing.length < 3;
      render();
    });
    tools.addEventListener('click', (ev) => {
      const act = ev.target.dataset && ev.target.dataset.act;
      if (act === 'draw') { drawing = []; selected = -1; status.textContent = 'Click the outline\'s points on the image, then Finish.'; }
      if (act === 'finish' && drawing && drawing.length >= 3) { state.get(fig).push({ contour: drawing, drawn: true }); drawing = null; ev.target.disabled = true; status.textContent = ''; }
      if (act === 'delete' && selected >= 0) { state.get(fig).splice(selected, 1); selected = -1; ev.target.disabled = true; }
      render();
    });
    render();
  }

  figures.forEach((fig) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Correct outlines';
    b.className = 'correct';
    b.addEventListener('click', () => { b.remove(); editor(fig); });
    fig.appendChild(b);
  });

  bar.querySelector('button.save').addEventListener('click', async () => {
    const findings = figures.flatMap((fig) => state.get(fig).map((f) => ({
      sopInstanceUid: fig.dataset.image,
      ...(f.trackingUid ? { trackingUid: f.trackingUid } : {}),
      polygon: f.contour.map((p) => [Math.round(p.x * 100) / 100, Math.round(p.y * 100) / 100]),
    })));
    const reader = bar.querySelector('input[name=reader]').value;
    status.textContent = 'Saving...';
    const res = await fetch(`/studies/${encodeURIComponent(bar.dataset.study)}/corrections`, {
      method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jobId: bar.dataset.job, findings, reader }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 201) { status.textContent = `Not saved: ${(body.error && body.error.message) || res.status}`; status.className = 'status failed'; return; }
    status.className = 'status delivered';
    status.textContent = `Saved as analysis ${body.jobId} by ${body.reader}: ${body.outputs.map((o) => o.label).join(', ')} queued.`;
    bar.dataset.saved = body.jobId;
  });
})();
