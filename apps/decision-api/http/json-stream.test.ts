/** The streamed JSON answer is JSON.stringify's, byte for byte, and serialising it lets other work in between. */
import fc from 'fast-check';
import { pieces } from './json-stream.js';

async function text(value: Record<string, unknown>): Promise<{ text: string; chunks: number }> {
  let out = '';
  let chunks = 0;
  for await (const piece of pieces(value)) {
    out += piece;
    chunks++;
  }
  return { text: out, chunks };
}

describe('jsonStream', () => {
  it('writes exactly what JSON.stringify writes (key order, undefined members, nested values, odd strings)', async () => {
    const member = fc.oneof(fc.jsonValue(), fc.array(fc.oneof(fc.jsonValue(), fc.constant(undefined))), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ unit: 'grapheme' }), member), async (value) => {
        expect((await text(value)).text).toBe(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  it('serialises a long array in chunks, between turns of the event loop', async () => {
    const steps = Array.from({ length: 300_000 }, (_, i) => ({ index: i, op: 'purchase', ok: true, after: { balance: i } }));
    let turns = 0;
    let serialising = true;
    const tick = (): void => {
      turns++;
      if (serialising) setImmediate(tick);
    };
    setImmediate(tick);
    const { text: out, chunks } = await text({ program: 'p@1.0.0', steps, final: { balance: 1 } });
    serialising = false;
    expect(out).toBe(JSON.stringify({ program: 'p@1.0.0', steps, final: { balance: 1 } }));
    expect(chunks).toBeGreaterThan(100);
    expect(turns).toBeGreaterThan(1); // without a yield, the queued macrotask would wait for the whole answer
  });
});
