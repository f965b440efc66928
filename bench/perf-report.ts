/**
 * Splits Linux `perf` samples of the service into native cost centres that add up to 100% of its on-CPU time.
 *
 * Why both profilers: `node --cpu-prof` names JavaScript functions exactly but samples the main thread on a wall
 * clock, so time the thread spends preempted inside a syscall counts against that syscall (pg's socket writes look
 * far bigger than they are), and it does not see GC helper or compiler threads. perf samples only on-CPU time, on
 * every thread, kernel included. Its JavaScript frames come from --perf-basic-prof's map, which goes stale when V8
 * moves or frees code (frames then carry the wrong names), so this report only trusts native symbols: V8, libc and
 * kernel. Use it for the native/kernel split and --cpu-prof (bench/profile.ts) for the JavaScript split.
 *
 *   BENCH_ONLY=http BENCH_PGLITE=0 BENCH_SERVICE_NODE_ARGS="--perf-basic-prof --logfile=/dev/null" npm run bench &
 *   perf record -a -g -F 999 -o perf.data -- sleep 10            # during the measured window
 *   perf script -i perf.data --pid <service pid> > service.txt && node dist/bench/perf-report.js service.txt
 *   perf script -i perf.data --comm postgres > postgres.txt && node dist/bench/perf-report.js postgres.txt
 *
 * A sample goes to the first centre whose test matches any frame of its stack.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Centre = readonly [name: string, test: (stack: string) => boolean];

const NODE_CENTRES: readonly Centre[] = [
  ['garbage collection (all threads)', (s) => /Heap::|Scavenger|MarkCompact|ConcurrentMarking|MinorMS|MarkingVisitor|Sweeper|GCTracer/.test(s)],
  ['JIT compilation (V8 background threads)', (s) => /OptimizingCompile|PipelineCompilationJob|compiler::|maglev::|Compiler::/i.test(s)],
  ['kernel: socket writes (TCP loopback; pg statements and HTTP responses)', (s) => /sock_write_iter|tcp_sendmsg|__libc_write|writev/.test(s)],
  ['libuv + kernel outside JavaScript: socket reads, epoll', (s) => !s.includes('JSEntry') && /uv__|epoll|tcp_recvmsg|sock_read_iter/.test(s)],
  ['JSON.stringify (V8 builtin)', (s) => /JsonStringif/.test(s)],
  ['JSON.parse (V8 builtin)', (s) => /JsonParser|JsonParse/.test(s)],
  ['string flattening and UTF-8 encoding (V8)', (s) => /String::WriteToFlat|WriteNonConsToFlat|Utf8Length|String::Flatten|WriteUtf8|Utf8Encode/.test(s)],
  ['other kernel (scheduler, interrupts, page faults)', (s) => (s.split('\n')[0] ?? '').includes('kernel.kallsyms')],
];

const POSTGRES_CENTRES: readonly Centre[] = [
  ['TOAST compression of large values (pglz_compress)', (s) => s.includes('pglz_compress')],
  ['WAL records (XLogInsert, XLogFlush…)', (s) => /XLogInsert|XLogFlush|XLogWrite|issue_xlog_fsync|CopyXLogRecord|XLogRecordAssemble/.test(s)],
  ['SQL lexing and parsing (statements with inlined literals)', (s) => /raw_parser|core_yylex|base_yyparse|pg_parse_query/.test(s)],
  ['jsonb input (jsonb_in, json_lex)', (s) => /jsonb_in|json_lex|pg_parse_json|pushJsonbValue|convertJsonb|JsonbValue/.test(s)],
  ['heap insert/update and TOAST storage', (s) => /heap_insert|heap_update|heap_toast|toast_save|toast_tuple/.test(s)],
  ['btree index maintenance', (s) => /_bt_|btinsert/.test(s)],
  ['planning', (s) => /planner|pg_plan_query|pg_plan_queries/.test(s)],
  ['executor', (s) => /ExecModifyTable|ExecInsert|ExecUpdate|standard_ExecutorRun|ExecInitNode|ExecutorStart|ExecutorEnd/.test(s)],
  ['transactions and savepoints (begin, commit, subtransactions)', (s) => /CommitTransaction|StartTransaction|DefineSavepoint|ReleaseSavepoint|CommitSubTransaction|StartSubTransaction|AbortSubTransaction|BeginTransactionBlock/.test(s)],
  ['kernel: network (send/receive over loopback)', (s) => /tcp_|sock_|inet_|__libc_recv|__libc_send/.test(s)],
  ['waiting for and reading the next statement (pq_getbyte, epoll)', (s) => /pq_getbyte|pq_getmessage|WaitEventSetWait|epoll_wait|secure_read/.test(s)],
];

function classify(stack: string, centres: readonly Centre[]): string {
  for (const [name, test] of centres) if (test(stack)) return name;
  return centres === POSTGRES_CENTRES ? 'other PostgreSQL' : 'JavaScript and V8 runtime (split it with --cpu-prof)';
}

export interface CentreShare {
  name: string;
  samples: number;
  pct: number;
}

export function perfCentres(text: string): { samples: number; byThread: Record<string, number>; centres: CentreShare[] } {
  const counts = new Map<string, number>();
  const byThread: Record<string, number> = {};
  let samples = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    const thread = /^(\S.*?)\s+\d+\s/.exec(lines[0]!)?.[1] ?? '?';
    const stack = lines.slice(1).join('\n');
    samples++;
    byThread[thread] = (byThread[thread] ?? 0) + 1;
    const centre = classify(stack, thread === 'postgres' ? POSTGRES_CENTRES : NODE_CENTRES);
    counts.set(centre, (counts.get(centre) ?? 0) + 1);
  }
  const centres = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => ({ name, samples: n, pct: Math.round((n / samples) * 1000) / 10 }));
  return { samples, byThread, centres };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/perf-report.js <perf script output>');
    process.exit(2);
  }
  const r = perfCentres(readFileSync(file, 'utf8'));
  console.log(`${r.samples} samples; by thread: ${Object.entries(r.byThread).map(([t, n]) => `${t} ${((n / r.samples) * 100).toFixed(1)}%`).join(', ')}`);
  for (const c of r.centres) console.log(`${c.pct.toFixed(1).padStart(6)}%  ${c.name}`);
}
