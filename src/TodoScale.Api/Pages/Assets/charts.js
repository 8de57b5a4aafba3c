// Bar charts as inline SVG, drawn here: no chart library, nothing fetched. Each chart also has a text
// alternative (role="img" + aria-label) and the numbers stay available as a table on the page.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Horizontal bars, one row per item: the main value as a bar, a second value as a thin bar beneath it.
// items: [{ label, value, valueText, second, secondText }]
export function horizontalBars(items, { label, secondLabel }) {
  const rowHeight = 22, labelWidth = 150, width = 560, barWidth = width - labelWidth - 110;
  const max = Math.max(1, ...items.map(i => i.value));
  const max2 = Math.max(1e-9, ...items.map(i => i.second ?? 0));
  const height = Math.max(rowHeight, items.length * rowHeight) + 20;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label });
  root.append(svg('title', {}, label));
  items.forEach((item, n) => {
    const y = n * rowHeight + 4;
    root.append(svg('text', { x: 0, y: y + 12 }, item.label));
    const w = Math.max(item.value > 0 ? 1 : 0, (item.value / max) * barWidth);
    const bar = svg('rect', { class: 'bar', x: labelWidth, y, width: w.toFixed(1), height: 11 });
    bar.append(svg('title', {}, `${item.label}: ${item.valueText}${item.secondText ? ', ' + item.secondText : ''}`));
    root.append(bar);
    if (item.second !== undefined) {
      root.append(svg('rect', { class: 'bar2', x: labelWidth, y: y + 12, width: ((item.second / max2) * barWidth).toFixed(1), height: 5 }));
    }
    root.append(svg('text', { x: labelWidth + barWidth + 6, y: y + 12 }, item.valueText));
  });
  root.append(svg('text', { x: labelWidth, y: height - 4, class: 'muted' }, `bar: ${label.split(':')[0]}; thin bar: ${secondLabel}`));
  return root;
}

// Vertical bars over time (one per month), oldest left.
// items: [{ label: '2026-11', value, valueText }]
export function columns(items, { label }) {
  const width = 560, height = 200, bottom = 36, top = 16, left = 8;
  const max = Math.max(1, ...items.map(i => i.value));
  const slot = (width - left) / Math.max(1, items.length);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label });
  root.append(svg('title', {}, label));
  items.forEach((item, n) => {
    const h = (item.value / max) * (height - top - bottom);
    const x = left + n * slot + slot * 0.15;
    const bar = svg('rect', { class: 'bar', x: x.toFixed(1), y: (height - bottom - h).toFixed(1), width: (slot * 0.7).toFixed(1), height: Math.max(item.value > 0 ? 1 : 0, h).toFixed(1) });
    bar.append(svg('title', {}, `${item.label}: ${item.valueText}`));
    root.append(bar);
    root.append(svg('text', { x: (x + slot * 0.35).toFixed(1), y: (height - bottom - h - 3).toFixed(1), 'text-anchor': 'middle' }, item.valueText));
    // 'YYYY-MM': the month under each bar, the year only under the first bar and each January, so 15+ months still fit.
    const [year, month] = item.label.split('-');
    root.append(svg('text', { x: (x + slot * 0.35).toFixed(1), y: height - bottom + 14, 'text-anchor': 'middle' }, month ?? item.label));
    if (year && (n === 0 || month === '01')) {
      root.append(svg('text', { x: (x + slot * 0.35).toFixed(1), y: height - bottom + 28, 'text-anchor': 'middle' }, year));
    }
  });
  if (items.length === 0) root.append(svg('text', { x: left, y: height / 2 }, 'No archive months yet.'));
  return root;
}
