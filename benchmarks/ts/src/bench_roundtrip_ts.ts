// Reducer round trip through the official TypeScript client (npm spacetimedb, pinned in
// tests/ts_client), the twin of bench_roundtrip.py: against a running chat database it subscribes
// to `message`, then calls send_message --calls times, one at a time; a call's latency is the
// time from the call until its result has arrived and its row is in the client cache (the
// promise has resolved and onInsert has fired for the row).
//
//   node dist/bench_roundtrip_ts.mjs --url ws://127.0.0.1:PORT [--db chat] [--calls 2000] [--warmup 100]
//
// Prints JSON with p50, p90, p99 and max in milliseconds and the CPU time per call, like
// bench_roundtrip.py.
import { Console } from 'node:console';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { DbConnection } from '../../../tests/ts_client/src/module_bindings/index.ts';

globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

// Node 20 has no global WebSocket; give the SDK undici's, from the pinned install.
if (typeof globalThis.WebSocket === 'undefined') {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const modules = path.join(here, '..', '..', '..', 'tests', 'ts_client', 'node_modules', 'noop.js');
  (globalThis as { WebSocket?: unknown }).WebSocket = createRequire(modules)('undici').WebSocket;
}

// Latency percentiles, and the process's CPU time per measured call (user + system, all threads).
function percentiles(samples: number[], cpuMicros: number): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b);
  const pick = (q: number): number =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000;
  return {
    calls: sorted.length,
    p50_ms: pick(0.5),
    p90_ms: pick(0.9),
    p99_ms: pick(0.99),
    max_ms: Math.round(sorted[sorted.length - 1]! * 1000) / 1000,
    cpu_us_per_call: Math.round((cpuMicros / sorted.length) * 10) / 10,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      db: { type: 'string', default: 'chat' },
      calls: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '100' },
    },
  });
  if (!values.url) throw new Error('--url is required');
  const calls = Number(values.calls);
  const warmup = Number(values.warmup);
  const conn = await new Promise<DbConnection>((resolve, reject) => {
    DbConnection.builder()
      .withUri(values.url!)
      .withDatabaseName(values.db!)
      .onConnect(c => resolve(c))
      .onConnectError((_ctx, error) => reject(error))
      .build();
  });
  await new Promise<void>((resolve, reject) => {
    conn.subscriptionBuilder()
      .onApplied(() => resolve())
      .onError((_ctx, error) => reject(error))
      .subscribe('SELECT * FROM message');
  });
  // The texts inserted so far (this client's calls), with who waits for each.
  const waiting = new Map<string, () => void>();
  conn.db.message.onInsert((_ctx, row) => {
    const done = waiting.get(row.text);
    if (done !== undefined) {
      waiting.delete(row.text);
      done();
    }
  });
  const samples: number[] = [];
  let cpu = process.cpuUsage();
  for (let i = 0; i < warmup + calls; i++) {
    if (i === warmup) cpu = process.cpuUsage();
    const text = `typescript ${process.pid} ${i}`;
    const start = process.hrtime.bigint();
    const inserted = new Promise<void>(resolve => waiting.set(text, resolve));
    await conn.reducers.sendMessage({ text });
    await inserted;
    if (i >= warmup) samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const used = process.cpuUsage(cpu);
  conn.disconnect();
  process.stdout.write(
    JSON.stringify({ client: 'spacetimedb (TypeScript) 2.10.1', node: process.version, typescript: percentiles(samples, used.user + used.system) }) +
      '\n'
  );
  process.exit(0);
}

main().catch(e => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
