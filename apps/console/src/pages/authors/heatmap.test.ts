import { cellColors, contrast } from './matrix.js';

describe('heatmap cells', () => {
  it('keep the count readable (WCAG AA, 4.5:1) at every shade, blue and orange', () => {
    for (const base of [[11, 87, 208], [196, 62, 0]] as const) {
      for (let s = 0; s <= 1.0001; s += 0.01) {
        const c = cellColors(base, s);
        const bg = c.background.match(/\d+/g)!.map(Number) as [number, number, number];
        const fg = c.text === '#ffffff' ? ([255, 255, 255] as const) : ([0x1b, 0x1f, 0x24] as const);
        expect(contrast(bg, fg)).toBeGreaterThanOrEqual(4.5);
      }
    }
  });
});
