// Offline smoke test of the harness: no server needed.
//
//   node dist/smoke_offline.mjs [--fixtures DIR] [--driver dist/chat_driver.mjs]
//
// Prints one JSON line per check ({"check", "ok", ...}) and a final {"event":"smoke_summary"}.
// Exit code 0 when every check passed, 1 otherwise.
//
// What it checks:
// * the hand-written bindings load and look like the generator's (tables, reducers, query SQL);
// * a DbConnection over an in-memory socket (withWSFn) sends, for the natural call sequence
//   subscribe / setName / sendMessage / unsubscribe, exactly the bytes of the reference vectors
//   (v2: one message per frame; v3: messages queued before open coalesced in one frame);
// * server vectors fed to that connection produce the driver's JSON events (shared code);
// * the library's own ClientMessage serializer (shipped src/) gives the set_name vector bytes;
// * the driver process reports a refused port via its TCP pre-check (exit 3, no hang), and its
//   global deadline ends the SDK's hang when the pre-check is switched off (exit 2).
import './stdout_guard.ts';

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ProductType } from 'spacetimedb';
// The wire message types are not exported by the package. `spacetimedb-src/` is an alias:
// build.mjs bundles the package's shipped src/, tsc reads the matching dist/ declarations.
// Reader and writer come from the same copy: their private fields do not cross copies.
import BinaryReader from 'spacetimedb-src/lib/binary_reader';
import BinaryWriter from 'spacetimedb-src/lib/binary_writer';
import { ClientMessage, ServerMessage } from 'spacetimedb-src/sdk/client_api/types';

import { dumpCache, errorMessage, reportReducer, watchTables, type DriverEvent, type JsonValue } from './driver_events.ts';
import { DbConnection, reducers, tables } from './module_bindings/index.ts';
import { writeJsonLine } from './stdout_guard.ts';

// ---------------------------------------------------------------- reporting

let passed = 0;
let failed = 0;

function check(name: string, ok: boolean, detail: { [key: string]: JsonValue } = {}): void {
  if (ok) passed += 1;
  else failed += 1;
  writeJsonLine({ check: name, ok, ...detail });
}

/** An observation worth printing that is not a pass/fail condition. */
function note(name: string, detail: { [key: string]: JsonValue }): void {
  writeJsonLine({ note: name, ...detail });
}

// ---------------------------------------------------------------- fixtures

type Vector = { name: string; hex: string; json: JsonValue; uncompressed_payload_hex?: string };

function loadVectors(dir: string, file: string, key: 'messages' | 'frames'): Map<string, Vector> {
  const doc = JSON.parse(readFileSync(path.join(dir, 'vectors', file), 'utf8')) as {
    [k: string]: Vector[];
  };
  const list = doc[key] ?? doc.messages ?? [];
  return new Map(list.map(v => [v.name, v]));
}

function vector(map: Map<string, Vector>, name: string): Vector {
  const v = map.get(name);
  if (!v) throw new Error(`fixture vector missing: ${name}`);
  return v;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function unhex(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function withRequestId(serverMessageHex: string, requestId: number): Uint8Array<ArrayBuffer> {
  // ReducerResult = tag u8, request_id u32 LE, ...: retarget a vector at another request.
  const bytes = unhex(serverMessageHex);
  new DataView(bytes.buffer).setUint32(1, requestId, true);
  return bytes;
}

// ---------------------------------------------------------------- an in-memory socket

type WsFactory = Parameters<ReturnType<typeof DbConnection.builder>['withWSFn']>[0];
type WsArgs = Parameters<WsFactory>[0];

class FakeSocket {
  readonly sent: Uint8Array[] = [];
  readyState = 0;
  #onopen: () => void = () => {};
  #onclose: (ev: CloseEvent) => void = () => {};
  #onmessage: (msg: { data: Uint8Array }) => void = () => {};

  constructor(readonly protocol: string) {}

  set onopen(handler: () => void) {
    this.#onopen = handler;
  }
  set onclose(handler: (ev: CloseEvent) => void) {
    this.#onclose = handler;
  }
  set onmessage(handler: (msg: { data: Uint8Array }) => void) {
    this.#onmessage = handler;
  }
  set onerror(_handler: (ev: ErrorEvent) => void) {}

  send(msg: Uint8Array): void {
    this.sent.push(msg.slice());
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.#onclose({ code: 1000, reason: '' } as CloseEvent), 0);
  }

  open(): void {
    this.readyState = 1;
    this.#onopen();
  }

  /** Delivers one server payload (what follows the compression tag byte). */
  deliver(payload: Uint8Array): void {
    this.#onmessage({ data: payload });
  }
}

const tick = (): Promise<void> => new Promise(resolve => setTimeout(resolve, 0));

function fakeConnection(protocol: string): {
  conn: DbConnection;
  socket: FakeSocket;
  args: WsArgs[];
  events: DriverEvent[];
} {
  const socket = new FakeSocket(protocol);
  const args: WsArgs[] = [];
  const events: DriverEvent[] = [];
  const emit = (e: DriverEvent): void => {
    events.push(e);
  };
  const conn = DbConnection.builder()
    .withUri('ws://127.0.0.1:3000')
    .withDatabaseName('chat')
    .withWSFn(async a => {
      args.push(a);
      return socket;
    })
    .onConnect((c, identity, token) =>
      emit({
        event: 'connected',
        identity: identity.toHexString(),
        token,
        connection_id: c.connectionId.toHexString(),
      })
    )
    .onDisconnect((_ctx, error) =>
      emit({ event: 'disconnected', error: error ? errorMessage(error) : null })
    )
    .build();
  watchTables(conn, emit);
  return { conn, socket, args, events };
}

function eventsOf(events: DriverEvent[], name: string): DriverEvent[] {
  return events.filter(e => e.event === name);
}

// ---------------------------------------------------------------- checks

function checkBindings(): void {
  check('bindings: reducer accessors', JSON.stringify(Object.keys(reducers).sort()) === '["sendMessage","setName"]', {
    accessors: Object.keys(reducers),
    wire_names: Object.values(reducers).map(r => r.name),
  });
  check('bindings: table canonical names', tables.user.sourceName === 'user' && tables.message.sourceName === 'message');
  const sql = {
    user: tables.user.toSql(),
    message: tables.message.toSql(),
    online_users: tables.user.where(r => r.online.eq(true)).toSql(),
  };
  check('bindings: typed queries render SQL', sql.user.includes('user') && sql.message.includes('message'), { sql });
  const userCols = Object.keys(tables.user.columns);
  check('bindings: user columns', JSON.stringify(userCols) === '["identity","name","online"]', { columns: userCols });
}

function checkLibrarySerializer(clientVectors: Map<string, Vector>): void {
  const v = vector(clientVectors, 'CallReducer set_name');
  const argsWriter = new BinaryWriter(64);
  const params = reducers.setName.paramsType;
  ProductType.makeSerializer(params)(argsWriter, { name: 'Alice' });
  const args = argsWriter.getBuffer();
  const writer = new BinaryWriter(64);
  ClientMessage.serialize(
    writer,
    ClientMessage.CallReducer({ requestId: 1, flags: 0, reducer: 'set_name', args })
  );
  const bytes = hex(writer.getBuffer());
  check('library serializer: CallReducer set_name == vector', bytes === v.hex, { got: bytes, want: v.hex });
}

async function checkV2Session(clientVectors: Map<string, Vector>, serverVectors: Map<string, Vector>): Promise<void> {
  const { conn, socket, args, events } = fakeConnection('v2.bsatn.spacetimedb');
  await tick();
  const a = args[0];
  check('handshake: subprotocols offered v3 then v2', JSON.stringify(a?.wsProtocol) === '["v3.bsatn.spacetimedb","v2.bsatn.spacetimedb"]', {
    offered: a ? a.wsProtocol : null,
  });
  const connectionId = a ? a.url.searchParams.get('connection_id') : null;
  check('handshake: connection_id query parameter (client-generated, 32 hex)', /^[0-9a-f]{32}$/.test(connectionId ?? ''), {
    url: a ? a.url.toString() : null,
    compression: a ? a.compression : null,
    light_mode: a ? a.lightMode : null,
    confirmed_reads: a?.confirmedReads === undefined ? null : a.confirmedReads,
  });

  socket.open();
  check('v2: nothing sent on open before any call', socket.sent.length === 0, { frames: socket.sent.length });
  socket.deliver(unhex(vector(serverVectors, 'InitialConnection').hex));
  const connected = eventsOf(events, 'connected')[0];
  check('v2: InitialConnection -> connected event', connected?.identity === 'c2006d0b2e3f6f2f0d6c3bb45e7c2c9b5c4a2fa0d1e3c4b5a69788796a5b4c3d' && connected?.connection_id === '5e1f9b2a7c3d4e5f60718293a4b5c6d7', {
    connected: connected ?? null,
  });

  let applied = false;
  const handle = conn
    .subscriptionBuilder()
    .onApplied(() => {
      applied = true;
    })
    .subscribe(['SELECT * FROM user', 'SELECT * FROM message']);
  const want = (name: string): string => vector(clientVectors, name).hex;
  check('v2: Subscribe frame == vector', hex(socket.sent[0] ?? new Uint8Array()) === want('Subscribe'), {
    got: hex(socket.sent[0] ?? new Uint8Array()),
  });

  socket.deliver(unhex(vector(serverVectors, 'SubscribeApplied (chat user rows)').hex));
  const inserts = eventsOf(events, 'user_insert');
  check('v2: SubscribeApplied -> applied + 3 user_insert', applied && inserts.length === 3, { inserts });

  const setName = reportReducer('set_name', () => conn.reducers.setName({ name: 'Alice' }), e => events.push(e));
  check('v2: CallReducer set_name frame == vector', hex(socket.sent[1] ?? new Uint8Array()) === want('CallReducer set_name'), {
    got: hex(socket.sent[1] ?? new Uint8Array()),
  });
  socket.deliver(unhex(vector(serverVectors, 'ReducerResult Ok').hex));
  await setName;
  const updates = eventsOf(events, 'user_update');
  check('v2: ReducerResult Ok -> user_update (cause Reducer set_name) + reducer_result ok', updates.length === 1 && updates[0].cause === 'Reducer' && updates[0].cause_reducer === 'set_name' && eventsOf(events, 'reducer_result')[0]?.status === 'ok', {
    update: updates[0] ?? null,
    result: eventsOf(events, 'reducer_result')[0] ?? null,
  });

  const sendMessage = reportReducer('send_message', () => conn.reducers.sendMessage({ text: 'Hello, 世界 👋' }), e => events.push(e));
  check('v2: CallReducer send_message frame == vector', hex(socket.sent[2] ?? new Uint8Array()) === want('CallReducer send_message'));
  socket.deliver(withRequestId(vector(serverVectors, 'ReducerResult Err').hex, 2));
  await sendMessage;
  const errResult = eventsOf(events, 'reducer_result')[1];
  check('v2: ReducerResult Err -> reducer_result err with the decoded string', errResult?.status === 'err' && errResult?.error === 'Names must not be empty', {
    result: errResult ?? null,
  });

  // A TransactionUpdate with one message row: the fixture one minus its event-table query set.
  const tu = ServerMessage.deserialize(new BinaryReader(unhex(vector(serverVectors, 'TransactionUpdate (persistent + event rows)').hex)));
  if (tu.tag === 'TransactionUpdate') {
    const value = tu.value as { querySets: typeof tu.value.querySets };
    value.querySets = tu.value.querySets.filter(qs => qs.querySetId.id === 0);
  }
  const writer = new BinaryWriter(256);
  ServerMessage.serialize(writer, tu);
  socket.deliver(writer.getBuffer());
  const messageInserts = eventsOf(events, 'message_insert');
  check('v2: TransactionUpdate -> message_insert (sender hex, sent micros, cause Transaction)', messageInserts.length === 1 && typeof messageInserts[0].sent === 'number' && /^[0-9a-f]{64}$/.test(String(messageInserts[0].sender)) && messageInserts[0].cause === 'Transaction', {
    message_insert: messageInserts[0] ?? null,
  });

  const dump = dumpCache(conn);
  check('v2: dump shows the cache', JSON.stringify(dump.counts) === '{"user":3,"message":1}', { dump });

  handle.unsubscribe();
  check('v2: Unsubscribe frame == vector (SendDroppedRows)', hex(socket.sent[3] ?? new Uint8Array()) === want('Unsubscribe (SendDroppedRows)'), {
    got: hex(socket.sent[3] ?? new Uint8Array()),
  });
  socket.deliver(unhex(vector(serverVectors, 'UnsubscribeApplied (rows some)').hex));
  check('v2: UnsubscribeApplied -> 3 user_delete', eventsOf(events, 'user_delete').length === 3);

  // Rows of a table the client does not know crash the SDK inside onmessage (a TypeError that
  // the driver reports as fatal): the server must only send tables of the client's module.
  let crash: string | null = null;
  try {
    socket.deliver(unhex(vector(serverVectors, 'TransactionUpdate (persistent + event rows)').hex));
  } catch (error) {
    crash = errorMessage(error);
  }
  note('v2: rows for a table unknown to the bindings (test_event) throw inside onmessage', { thrown: crash });

  conn.disconnect();
  await tick();
  await tick();
  check('v2: disconnect -> disconnected event', eventsOf(events, 'disconnected').length === 1);
}

async function checkV3Session(clientVectors: Map<string, Vector>, frames: Map<string, Vector>): Promise<void> {
  void clientVectors;
  const { conn, socket, events } = fakeConnection('v3.bsatn.spacetimedb');
  await tick();
  // Calls made before the socket opens are queued and leave in one coalesced v3 frame.
  let applied = false;
  conn
    .subscriptionBuilder()
    .onApplied(() => {
      applied = true;
    })
    .subscribe(['SELECT * FROM user', 'SELECT * FROM message']);
  const r1 = conn.reducers.setName({ name: 'Alice' });
  const r2 = conn.reducers.sendMessage({ text: 'Hello, 世界 👋' });
  void r1.catch(() => {});
  void r2.catch(() => {});
  socket.open();
  const want = vector(frames, 'v3 client frame: Subscribe + CallReducer set_name + CallReducer send_message').hex;
  check('v3: queued Subscribe + 2 CallReducer leave in one frame == vector', socket.sent.length === 1 && hex(socket.sent[0]) === want, {
    frames: socket.sent.length,
  });

  const serverFrame = vector(frames, 'server v3 frame, tag 0 (none): InitialConnection + SubscribeApplied');
  // The in-memory socket has no decompression step: hand over the payload after the tag byte.
  socket.deliver(unhex(serverFrame.uncompressed_payload_hex ?? serverFrame.hex.slice(2)));
  check('v3: one frame with InitialConnection + SubscribeApplied -> connected, applied, 3 inserts', eventsOf(events, 'connected').length === 1 && applied && eventsOf(events, 'user_insert').length === 3);
  conn.disconnect();
  await tick();
  await tick();
}

type ProcessResult = { code: number | null; lines: DriverEvent[]; ms: number; stderr: string };

function runDriver(driver: string, args: string[], stdin: string, killAfterMs: number): Promise<ProcessResult> {
  return new Promise(resolve => {
    const started = Date.now();
    const child = spawn(process.execPath, [driver, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', chunk => {
      out += chunk;
    });
    child.stderr.on('data', chunk => {
      err += chunk;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', code => {
      clearTimeout(killer);
      const lines = out
        .split('\n')
        .filter(l => l.trim() !== '')
        .map(l => {
          try {
            return JSON.parse(l) as DriverEvent;
          } catch {
            return { event: 'not_json', line: l } as DriverEvent;
          }
        });
      resolve({ code, lines, ms: Date.now() - started, stderr: err });
    });
    child.stdin.end(stdin);
  });
}

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function checkDriverProcess(driver: string): Promise<void> {
  const port = await closedPort();
  const uri = `ws://127.0.0.1:${port}`;
  const refused = await runDriver(driver, ['--uri', uri, '--db', 'chat', '--deadline-ms', '10000'], '{"op":"dump"}\n', 15000);
  const first = refused.lines[0];
  check('driver: refused port -> connect_error via TCP pre-check, exit 3, fast', refused.code === 3 && first?.event === 'connect_error' && first?.stage === 'tcp_precheck' && refused.ms < 5000, {
    code: refused.code,
    ms: refused.ms,
    lines: refused.lines,
  });
  check('driver: stdout carries only JSON', refused.lines.every(l => l.event !== 'not_json'));

  // Refused without the pre-check: the SDK sometimes never reports it (a race in attaching
  // its socket handlers); whichever happens, the driver must end within its deadline.
  const raced = await runDriver(driver, ['--uri', uri, '--db', 'chat', '--no-tcp-precheck', '--deadline-ms', '1500', '--connect-timeout-ms', '60000'], '', 15000);
  check('driver: refused port without the pre-check still ends (connect_error exit 3 or deadline exit 2)', raced.code === 3 || raced.code === 2, {
    code: raced.code,
    ms: raced.ms,
    lines: raced.lines,
  });
  note('driver: SDK alone on a refused port', {
    outcome: raced.code === 2 ? 'hung until the global deadline' : 'reported connect_error itself',
  });

  // A port that accepts TCP but never answers the HTTP upgrade hangs the SDK every time.
  const silent = createServer(socket => {
    socket.on('error', () => {});
  });
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  const silentUri = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    const hung = await runDriver(driver, ['--uri', silentUri, '--db', 'chat', '--deadline-ms', '1500', '--connect-timeout-ms', '60000'], '', 15000);
    const fatalLine = hung.lines.find(l => l.event === 'fatal');
    check('driver: silent server -> global deadline, fatal line, exit 2', hung.code === 2 && fatalLine !== undefined && hung.ms < 6000, {
      code: hung.code,
      ms: hung.ms,
      lines: hung.lines,
    });
    const slow = await runDriver(driver, ['--uri', silentUri, '--db', 'chat', '--deadline-ms', '20000', '--connect-timeout-ms', '1000'], '', 15000);
    check('driver: silent server -> connect_error stage timeout, exit 3', slow.code === 3 && slow.lines[0]?.event === 'connect_error' && slow.lines[0]?.stage === 'timeout', {
      code: slow.code,
      ms: slow.ms,
      lines: slow.lines,
    });
  } finally {
    silent.close();
    // Idle sockets from the driver would keep close() waiting; they die with the children.
  }

  const bad = await runDriver(driver, ['--db', 'chat'], '', 15000);
  check('driver: missing --uri -> fatal, exit 1', bad.code === 1 && bad.lines[0]?.event === 'fatal', { lines: bad.lines });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const { values } = parseArgs({
    options: {
      fixtures: { type: 'string' },
      driver: { type: 'string', default: path.join(here, 'chat_driver.mjs') },
    },
  });
  // dist/ -> tests/fixtures, the repository's copy of the reference vectors.
  const fixtures = values.fixtures ?? path.resolve(here, '../../fixtures');
  const clientVectors = loadVectors(fixtures, 'v2_client_messages.json', 'messages');
  const serverVectors = loadVectors(fixtures, 'v2_server_messages.json', 'messages');
  const frames = loadVectors(fixtures, 'v3_frames.json', 'frames');

  const steps: [string, () => void | Promise<void>][] = [
    ['bindings', checkBindings],
    ['library serializer', () => checkLibrarySerializer(clientVectors)],
    ['v2 session', () => checkV2Session(clientVectors, serverVectors)],
    ['v3 session', () => checkV3Session(clientVectors, frames)],
    ['driver process', () => checkDriverProcess(values.driver ?? '')],
  ];
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      check(`${name}: ran without throwing`, false, { error: errorMessage(error), stack: error instanceof Error ? error.stack ?? null : null });
    }
  }
  writeJsonLine({ event: 'smoke_summary', passed, failed });
  process.exit(failed === 0 ? 0 : 1);
}

process.on('unhandledRejection', reason => {
  writeJsonLine({ event: 'fatal', error: errorMessage(reason) });
  process.exit(1);
});

void main();
