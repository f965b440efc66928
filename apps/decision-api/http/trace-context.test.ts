import { parseTraceParent } from './trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('parseTraceParent', () => {
  it('reads the trace id, the parent span id and the sampled flag of a version-00 header', () => {
    expect(parseTraceParent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, parentSpanId: SPAN, sampled: true });
    expect(parseTraceParent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, parentSpanId: SPAN, sampled: false });
  });

  it('reads a later version by its version-00 fields, extra fields included', () => {
    expect(parseTraceParent(`cc-${TRACE}-${SPAN}-01-what-comes-next`)).toEqual({ traceId: TRACE, parentSpanId: SPAN, sampled: true });
  });

  it.each([
    ['absent', undefined],
    ['repeated', [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`]],
    ['empty', ''],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['a short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['a long span id', `00-${TRACE}-${SPAN}0-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['an all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with a fifth field', `00-${TRACE}-${SPAN}-01-extra`],
    ['one-digit flags', `00-${TRACE}-${SPAN}-1`],
    ['another separator', `00_${TRACE}_${SPAN}_01`],
    ['not hex', `00-${'g'.repeat(32)}-${SPAN}-01`],
    ['far too long', `cc-${TRACE}-${SPAN}-01-${'a'.repeat(600)}`],
  ])('ignores a header that is %s', (_, header) => {
    expect(parseTraceParent(header)).toBeUndefined();
  });
});
