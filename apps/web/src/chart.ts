export interface Point {
  readonly x: number;
  readonly y: number;
}

const SVG = 'http://www.w3.org/2000/svg';
const DEFAULT_WIDTH = 600;
const HEIGHT = 240;
const MARGIN = { left: 44, right: 12, top: 12, bottom: 28 };

/** A line chart of training bpb by step, with validation points as dots, drawn into an SVG. */
export function drawChart(svg: SVGSVGElement, train: readonly Point[], validation: readonly Point[]): void {
  // One unit of the drawing is one CSS pixel at the chart's current width, so its labels keep their
  // font size on a phone instead of shrinking with the whole picture.
  const width = Math.round(svg.getBoundingClientRect().width) || DEFAULT_WIDTH;
  const height = HEIGHT;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const all = [...train, ...validation];
  svg.replaceChildren();
  if (all.length === 0) return;
  const xMax = Math.max(...all.map((p) => p.x), 1);
  const yMin = Math.floor(Math.min(...all.map((p) => p.y)));
  const yMax = Math.ceil(Math.max(...all.map((p) => p.y)));
  const yRange = Math.max(yMax - yMin, 1);
  const x = (value: number) => MARGIN.left + (value / xMax) * (width - MARGIN.left - MARGIN.right);
  const y = (value: number) =>
    MARGIN.top + (1 - (value - yMin) / yRange) * (height - MARGIN.top - MARGIN.bottom);

  const element = (name: string, attributes: Record<string, string | number>, text?: string) => {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  element('line', { class: 'axis', x1: MARGIN.left, y1: y(yMin), x2: width - MARGIN.right, y2: y(yMin) });
  element('line', { class: 'axis', x1: MARGIN.left, y1: y(yMin), x2: MARGIN.left, y2: MARGIN.top });
  for (const value of [yMin, (yMin + yMax) / 2, yMax]) {
    element(
      'text',
      { class: 'tick', x: MARGIN.left - 6, y: y(value) + 4, 'text-anchor': 'end' },
      value.toFixed(1),
    );
  }
  element(
    'text',
    { class: 'tick', x: width - MARGIN.right, y: height - 8, 'text-anchor': 'end' },
    `step ${xMax}`,
  );
  element('text', { class: 'tick', x: MARGIN.left, y: height - 8 }, 'bits per byte');
  if (train.length > 0) {
    element('polyline', { class: 'train', points: train.map((p) => `${x(p.x)},${y(p.y)}`).join(' ') });
  }
  for (const p of validation) element('circle', { class: 'eval', cx: x(p.x), cy: y(p.y), r: 4 });
}
