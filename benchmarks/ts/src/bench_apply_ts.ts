// The official TypeScript client (npm spacetimedb, pinned in tests/ts_client) applying one
// SubscribeApplied message: the same bytes bench_apply.py reads.
//
//   node dist/bench_apply_ts.mjs --message FILE [--repeat 7]
//
// Each run builds a fresh DbConnection over an in-memory socket (v2), delivers InitialConnection,
// subscribes to the message's table, then times the synchronous delivery of the message (the
// SDK deserializes the message, decodes every row, keys it and fills its table cache, runs
// onApplied and the (empty) row callbacks). Prints JSON like bench_apply.py.
import { Console } from 'node:console';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { DbConnection } from './bench_bindings.ts';

globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

class FakeSocket {
  readonly sent: Uint8Array[] = [];
  readyState = 0;
  #onopen: () => void = () => {};
  #onmessage: (msg: { data: Uint8Array }) => void = () => {};
  constructor(readonly protocol: string) {}
  set onopen(h: () => void) { this.#onopen = h; }
  set onclose(_h: (ev: CloseEvent) => void) {}
  set onmessage(h: (msg: { data: Uint8Array }) => void) { this.#onmessage = h; }
  set onerror(_h: (ev: ErrorEvent) => void) {}
  send(msg: Uint8Array): void { this.sent.push(msg.slice()); }
  close(): void { this.readyState = 3; }
  open(): void { this.readyState = 1; this.#onopen(); }
  deliver(payload: Uint8Array): void { this.#onmessage({ data: payload }); }
}

const tick = (): Promise<void> => new Promise(r => setTimeout(r, 0));

function tableOf(message: Uint8Array): string {
  // SubscribeApplied: tag u8, request_id u32, query_set_id u32, tables: u32 count, then the
  // first entry's table name (u32 length + UTF-8).
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (message[0] !== 1) throw new Error('not a SubscribeApplied message');
  const len = view.getUint32(13, true);
  return Buffer.from(message.subarray(17, 17 + len)).toString('utf8');
}

// InitialConnection with a zero-ish identity and a fake token.
function initialConnection(): Uint8Array {
  const token = Buffer.from('eyJ0');
  const out = new Uint8Array(1 + 32 + 16 + 4 + token.length);
  out[0] = 0;
  out[1] = 1;
  out[33] = 1;
  new DataView(out.buffer).setUint32(49, token.length, true);
  out.set(token, 53);
  return out;
}

async function runOnce(message: Uint8Array, table: string): Promise<{ ms: number; rows: number }> {
  const socket = new FakeSocket('v2.bsatn.spacetimedb');
  const conn = DbConnection.builder()
    .withUri('ws://127.0.0.1:3000')
    .withDatabaseName('bench')
    .withWSFn(async () => socket as never)
    .build();
  await tick();
  socket.open();
  socket.deliver(initialConnection());
  let applied = false;
  conn.subscriptionBuilder().onApplied(() => { applied = true; }).subscribe(`SELECT * FROM ${table}`);
  await tick();
  // Retarget the message at the ids the client chose (Subscribe: tag, request_id, query_set_id).
  const sub = socket.sent[socket.sent.length - 1]!;
  const patched = message.slice();
  patched.set(sub.subarray(1, 9), 1);
  const start = process.hrtime.bigint();
  socket.deliver(patched);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!applied) throw new Error('onApplied did not fire');
  const rows = Number((conn.db as any)[table].count());
  conn.disconnect();
  return { ms, rows };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { message: { type: 'string' }, repeat: { type: 'string', default: '7' } },
  });
  if (!values.message) throw new Error('--message FILE is required');
  const message = new Uint8Array(readFileSync(values.message));
  const table = tableOf(message);
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < Number(values.repeat); i++) {
    const r = await runOnce(message, table);
    times.push(r.ms);
    rows = r.rows;
    (globalThis as any).gc?.();
  }
  times.sort((a, b) => a - b);
  const best = times[0]!;
  process.stdout.write(
    JSON.stringify({
      client: 'spacetimedb (TypeScript) 2.10.1',
      node: process.version,
      table,
      rows,
      total_ms: Math.round(best * 1000) / 1000,
      median_ms: Math.round(times[Math.floor(times.length / 2)]! * 1000) / 1000,
      ns_per_row: Math.round((best * 1e6) / rows * 10) / 10,
    }) + '\n'
  );
}

main().catch(e => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
