/** A step line over time in plain SVG (a balance changes at an entry and holds until the next), with a data table for screen readers. */
import { dateTime, number } from '../format.js';

export function StepLine({ points, caption, format = number }: { points: { t: number; v: number }[]; caption: string; format?: (v: number) => string }) {
  const w = 640;
  const h = 200;
  const pad = { l: 70, r: 12, t: 10, b: 28 };
  if (points.length === 0) return null;
  const t0 = points[0]!.t;
  const t1 = Math.max(points[points.length - 1]!.t, t0 + 1);
  const vs = points.map((p) => p.v);
  const lo = Math.min(0, ...vs);
  const hi = Math.max(1, ...vs);
  const x = (t: number) => pad.l + ((t - t0) / (t1 - t0)) * (w - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  let d = `M ${x(points[0]!.t)} ${y(points[0]!.v)}`;
  for (let i = 1; i < points.length; i++) d += ` H ${x(points[i]!.t)} V ${y(points[i]!.v)}`;
  return (
    <figure className="chart chart-wide">
      <svg viewBox={`0 0 ${w} ${h}`} width="100%" role="img" aria-label={caption}>
        <line x1={pad.l} x2={w - pad.r} y1={y(0)} y2={y(0)} stroke="#8a939e" />
        <text x={pad.l - 6} y={y(hi) + 4} textAnchor="end">
          {format(hi)}
        </text>
        <text x={pad.l - 6} y={y(lo) + 4} textAnchor="end">
          {format(lo)}
        </text>
        <path d={d} fill="none" stroke="#0b57d0" strokeWidth={2} />
        {points.map((p, i) => (
          <circle key={i} cx={x(p.t)} cy={y(p.v)} r={3} fill="#0b57d0" />
        ))}
        <text x={pad.l} y={h - 8}>
          {dateTime(new Date(t0).toISOString())}
        </text>
        <text x={w - pad.r} y={h - 8} textAnchor="end">
          {dateTime(new Date(t1).toISOString())}
        </text>
      </svg>
      <figcaption className="muted small">{caption}</figcaption>
      <div className="visually-hidden">
        <table>
          <caption>{caption}</caption>
          <tbody>
            {points.map((p, i) => (
              <tr key={i}>
                <th scope="row">{dateTime(new Date(p.t).toISOString())}</th>
                <td>{format(p.v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
