// The official TypeScript client (npm spacetimedb, pinned in tests/ts_client) receiving one
// message: the same bytes bench_apply.py reads, measured the same way.
//
//   node --expose-gc dist/bench_apply_ts.mjs --message FILE [--prefill FILE] [--repeat 7] [--mode M]
//
// Each run builds a fresh DbConnection over an in-memory socket (v2), delivers InitialConnection,
// subscribes to the message's table (the message is retargeted at the ids the client chose) and,
// for a TransactionUpdate, first delivers --prefill (untimed, read once). Then it times the
// synchronous delivery of the message (the SDK deserializes it, decodes every row, keys it,
// applies it to its table cache and runs the callbacks):
//   receipt_ms   no row callbacks;
//   read_ms      the receipt, then every cached row read once (one table iteration);
//   callback_ms  with one callback touching one field of each row (onInsert; onUpdate for a
//                TransactionUpdate, whose deletes and inserts pair up);
// and bytes_per_cached_row: heapUsed after `read` and global.gc(), less that of an empty
// subscribed connection, per cached row (external_bytes_per_cached_row adds ArrayBuffers).
// Prints JSON like bench_apply.py.
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

const SUBSCRIBE_APPLIED = 1;
const TRANSACTION_UPDATE = 4;

interface Parsed {
  kind: number;
  table: string;
  rows: number;
}

// Reads the parts of the message the benchmark needs (one table, one query set).
function parse(message: Uint8Array): Parsed {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let pos = 0;
  const u8 = (): number => message[pos++]!;
  const u32 = (): number => { const v = view.getUint32(pos, true); pos += 4; return v; };
  const str = (): string => {
    const n = u32();
    const s = Buffer.from(message.subarray(pos, pos + n)).toString('utf8');
    pos += n;
    return s;
  };
  // A BsatnRowList: hint (0 FixedSize u16 | 1 RowOffsets u64[]), then the rows' bytes.
  const rowList = (): { count: number } => {
    const hint = u8();
    let fixed = 0, count = 0;
    if (hint === 0) { fixed = view.getUint16(pos, true); pos += 2; }
    else { count = u32(); pos += 8 * count; }
    const len = u32();
    pos += len;
    return { count: hint === 0 ? len / fixed : count };
  };
  const kind = u8();
  if (kind === SUBSCRIBE_APPLIED) {
    pos += 8; // request_id, query_set_id
    if (u32() !== 1) throw new Error('one table expected');
    const table = str();
    return { kind, table, rows: rowList().count };
  }
  if (kind !== TRANSACTION_UPDATE) throw new Error(`unsupported message tag ${kind}`);
  if (u32() !== 1) throw new Error('one query set expected');
  pos += 4; // query_set_id
  if (u32() !== 1) throw new Error('one table expected');
  const table = str();
  if (u32() !== 1 || u8() !== 0) throw new Error('one PersistentTable update expected');
  const inserts = rowList();
  const deletes = rowList();
  return { kind, table, rows: inserts.count + deletes.count };
}

// The message aimed at the ids of the client's Subscribe (tag, request_id u32, query_set_id u32).
function retarget(message: Uint8Array, sub: Uint8Array): Uint8Array {
  const out = message.slice();
  if (out[0] === SUBSCRIBE_APPLIED) out.set(sub.subarray(1, 9), 1);
  else out.set(sub.subarray(5, 9), 5);
  return out;
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

type Mode = 'receipt' | 'read' | 'callback';
const MODES: Mode[] = ['receipt', 'read', 'callback'];
// The column the callbacks touch: the table's last one, as in bench_apply.py.
const TOUCHED: Record<string, string> = { message: 'text', entity: 'hp', user: 'online' };
let sink = 0;

interface Prepared {
  conn: DbConnection;
  deliver: () => void;
}

async function connect(message: Uint8Array, info: Parsed, prefill: Uint8Array | null): Promise<Prepared> {
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
  conn.subscriptionBuilder().onApplied(() => { applied = true; }).subscribe(`SELECT * FROM ${info.table}`);
  await tick();
  const sub = socket.sent[socket.sent.length - 1]!;
  const table = (conn.db as any)[info.table];
  if (prefill !== null) {
    socket.deliver(retarget(prefill, sub));
    if (!applied) throw new Error('onApplied did not fire for the prefill');
    for (const _ of table.iter()) { /* read once */ }
  }
  const frame = retarget(message, sub);
  return {
    conn,
    deliver: () => {
      socket.deliver(frame);
      if (info.kind === SUBSCRIBE_APPLIED && !applied) throw new Error('onApplied did not fire');
    },
  };
}

function prepare(p: Prepared, info: Parsed, mode: Mode): () => void {
  const table = (p.conn.db as any)[info.table];
  const field = TOUCHED[info.table]!;
  if (mode === 'callback') {
    if (info.kind === TRANSACTION_UPDATE) {
      table.onUpdate((_ctx: unknown, _old: any, row: any) => { if (row[field] === undefined) sink++; });
    } else {
      table.onInsert((_ctx: unknown, row: any) => { if (row[field] === undefined) sink++; });
    }
  }
  if (mode !== 'read') return () => {};
  return () => {
    for (const _ of table.iter()) { /* read once */ }
  };
}

const gc = (): void => {
  const collect = (globalThis as any).gc;
  if (typeof collect !== 'function') throw new Error('run node with --expose-gc');
  collect();
};

async function timeOnce(message: Uint8Array, info: Parsed, prefill: Uint8Array | null, mode: Mode): Promise<number> {
  const p = await connect(message, info, prefill);
  const after = prepare(p, info, mode);
  gc();
  const start = process.hrtime.bigint();
  p.deliver();
  after();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  p.conn.disconnect();
  return ms;
}

async function retained(message: Uint8Array, info: Parsed, prefill: Uint8Array | null): Promise<{ heap: number; external: number; rows: number }> {
  const empty = await connect(message, info, null);
  gc();
  const m0 = process.memoryUsage();
  empty.conn.disconnect();
  const p = await connect(message, info, prefill);
  const after = prepare(p, info, 'read');
  p.deliver();
  after();
  (p as any).deliver = null;
  gc();
  const m1 = process.memoryUsage();
  const rows = Number((p.conn.db as any)[info.table].count());
  p.conn.disconnect();
  return {
    heap: (m1.heapUsed - m0.heapUsed) / rows,
    external: (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / rows,
    rows,
  };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      message: { type: 'string' },
      prefill: { type: 'string' },
      repeat: { type: 'string', default: '7' },
      // Only this mode, and no memory measurement (for profiling: node --cpu-prof).
      mode: { type: 'string' },
    },
  });
  const modes = values.mode ? [values.mode as Mode] : MODES;
  if (!values.message) throw new Error('--message FILE is required');
  const message = new Uint8Array(readFileSync(values.message));
  const prefill = values.prefill ? new Uint8Array(readFileSync(values.prefill)) : null;
  const info = parse(message);
  if (info.kind === TRANSACTION_UPDATE && prefill === null) throw new Error('--prefill is needed');
  // Memory first, while the heap holds nothing else of ours.
  const memory = values.mode ? { heap: NaN, external: NaN, rows: 0 } : await retained(message, info, prefill);
  const times: Record<Mode, number[]> = { receipt: [], read: [], callback: [] };
  for (let i = 0; i < Number(values.repeat); i++) {
    for (const mode of modes) times[mode].push(await timeOnce(message, info, prefill, mode));
  }
  const result: Record<string, unknown> = {
    client: 'spacetimedb (TypeScript) 2.10.1',
    node: process.version,
    table: info.table,
    rows: info.rows,
    cached_rows: memory.rows,
    touched_field: TOUCHED[info.table],
  };
  for (const mode of modes) {
    const sorted = [...times[mode]].sort((a, b) => a - b);
    result[`${mode}_ms`] = round(sorted[0]!);
    result[`${mode}_median_ms`] = round(sorted[Math.floor(sorted.length / 2)]!);
  }
  result.bytes_per_cached_row = Math.round(memory.heap * 10) / 10;
  result.external_bytes_per_cached_row = Math.round(memory.external * 10) / 10;
  result.repeat = Number(values.repeat);
  result.sink = sink;
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch(e => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
