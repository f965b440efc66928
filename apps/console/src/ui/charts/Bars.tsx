/**
 * A horizontal bar chart in plain SVG (no chart library: the initial JavaScript stays small). The numbers are also
 * in a visually hidden table, so a screen reader gets the data, not a picture.
 */
import { number } from '../format.js';

export interface Bar {
  label: string;
  value: number;
}

export function Bars({ bars, caption, unit = '' }: { bars: Bar[]; caption: string; unit?: string }) {
  const max = Math.max(1, ...bars.map((b) => Math.abs(b.value)));
  const row = 26;
  const labelWidth = 190;
  const width = 520;
  const plot = width - labelWidth - 60;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${bars.length * row + 4}`} width="100%" role="img" aria-label={caption} preserveAspectRatio="xMinYMin meet">
        {bars.map((b, i) => {
          const w = Math.max(2, (Math.abs(b.value) / max) * plot);
          return (
            <g key={b.label} transform={`translate(0 ${i * row + 2})`}>
              <text x={labelWidth - 8} y={row / 2 + 4} textAnchor="end">
                {b.label.length > 28 ? `${b.label.slice(0, 27)}…` : b.label}
              </text>
              <rect x={labelWidth} y={4} width={w} height={row - 8} rx={3} fill={b.value < 0 ? '#a50e0e' : '#0b57d0'} />
              <text x={labelWidth + w + 6} y={row / 2 + 4}>
                {number(b.value)}
                {unit}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="muted small">{caption}</figcaption>
      <div className="visually-hidden">
      <table>
        <caption>{caption}</caption>
        <tbody>
          {bars.map((b) => (
            <tr key={b.label}>
              <th scope="row">{b.label}</th>
              <td>{b.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </figure>
  );
}
