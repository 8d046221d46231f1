// The viewer's controls as the page shows them: filling the pickers, times in words, the
// legend, the notice, the value readout and the status line. No map logic lives here.

const $ = (id) => document.getElementById(id);

const DATE = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
  hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** An ISO time in words, UTC: "Wed 1 Jul 2026, 06:00 UTC". */
export function timeWords(iso) {
  if (!iso) return 'no time';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${DATE.format(d)} UTC`;
}

/** The lead time of a step in hours, as "+6 h", or "" without a reference time. */
export function leadWords(step) {
  if (!step.reference_time || !step.valid_time) return '';
  const h = (new Date(step.valid_time) - new Date(step.reference_time)) / 3.6e6;
  return Number.isFinite(h) ? ` (${h >= 0 ? '+' : ''}${Math.round(h * 100) / 100} h)` : '';
}

/** Fills the layer picker: one group per variable, one entry per level (series). */
export function fillSeries(catalog, selected) {
  const select = $('series');
  select.replaceChildren();
  for (const g of catalog.groups) {
    const group = document.createElement('optgroup');
    group.label = g.label;
    for (const s of g.series) {
      const o = document.createElement('option');
      o.value = s.id;
      const steps = s.steps.length === 1 ? '1 step' : `${s.steps.length} steps`;
      const tiling = s.geographic ? ', geographic tiling: not drawn' : '';
      o.textContent = `${s.longName}, ${s.levelWords} (${steps}${tiling})`;
      o.selected = s.id === selected;
      group.append(o);
    }
    select.append(group);
  }
}

/** Fills the reference-time picker of a series. */
export function fillReferences(series, selected) {
  const select = $('reference');
  select.replaceChildren();
  const latest = new Option('Latest forecast of each valid time', 'latest');
  select.append(latest);
  for (const r of series.references) {
    select.append(new Option(r == null ? 'No reference time' : timeWords(r), String(r)));
  }
  select.value = [...select.options].some((o) => o.value === selected) ? selected : 'latest';
  select.disabled = series.references.length < 2 && select.value === 'latest';
  return select.value;
}

/** Shows the time slider over `steps` at `index`. */
export function showTime(steps, index, playing) {
  const slider = $('time');
  slider.max = String(Math.max(0, steps.length - 1));
  slider.value = String(index);
  const step = steps[index];
  $('time-label').value = step ? `${timeWords(step.valid_time)}${leadWords(step)}` : '';
  $('time-label').textContent = $('time-label').value;
  const single = steps.length < 2;
  for (const id of ['time', 'prev', 'next', 'play']) $(id).disabled = single;
  $('play').textContent = playing ? '❚❚' : '▶';
  $('play').title = playing ? 'Pause (space)' : 'Play (space)';
  $('play').setAttribute('aria-label', playing ? 'Pause' : 'Play');
}

/** Presses one button of a segmented control. */
export function press(prefix, value) {
  for (const b of document.querySelectorAll(`[id^="${prefix}-"]`)) {
    b.setAttribute('aria-pressed', String(b.id === `${prefix}-${value}`));
  }
}

/** The legend of a layer: its PNG, and a caption with where the colours come from. */
export function showLegend(layer, legend) {
  const img = $('legend-img');
  if (layer?.legend_png) {
    img.src = layer.legend_png;
    img.alt = legend?.title ? `Legend: ${legend.title}` : `Legend of ${layer.name}`;
  } else {
    img.removeAttribute('src');
  }
  const caption = [];
  if (legend?.range_source === 'data') caption.push('Colour range from this step\'s data.');
  if (layer) caption.push(`Run ${layer.run}, layer ${layer.name}.`);
  $('legend-caption').textContent = caption.join(' ');
}

/** A notice in the panel (text, and an optional link); `null` hides it. */
export function notice(text, link) {
  const box = $('notice');
  if (!text) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.replaceChildren(document.createTextNode(text));
  if (link) {
    const a = document.createElement('a');
    a.href = link.href;
    a.textContent = link.text;
    a.target = '_blank';
    a.rel = 'noopener';
    box.append(' ', a);
  }
  box.hidden = false;
}

/** The readout of the value under the cursor. */
export function readout(main, where, data) {
  const el = $('readout');
  $('readout-value').textContent = main;
  $('readout-where').textContent = where;
  for (const [k, v] of Object.entries(data)) {
    if (v == null) delete el.dataset[k];
    else el.dataset[k] = String(v);
  }
}

/** A problem the user should know about (an unreadable catalog, a failing source). */
export function status(text) {
  const el = $('status');
  el.hidden = !text;
  el.textContent = text || '';
}

/** A position in words: "45.12° N, 10.50° E". */
export function lonLatWords(lon, lat) {
  const f = (v, pos, neg) => `${Math.abs(v).toFixed(2)}° ${v >= 0 ? pos : neg}`;
  return `${f(lat, 'N', 'S')}, ${f(lon, 'E', 'W')}`;
}
