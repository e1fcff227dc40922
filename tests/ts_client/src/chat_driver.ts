// CLI driver: connects the official `spacetimedb` TypeScript client to a chat database, runs
// newline-delimited JSON commands (stdin or a file) and prints one JSON event per line on stdout.
//
//   node dist/chat_driver.mjs --uri ws://127.0.0.1:PORT --db chat [--token T]
//        [--compression gzip|none|brotli] [--script FILE|-] [--deadline-ms N]
//        [--connect-timeout-ms N] [--light] [--confirmed-reads true|false]
//        [--sdk-log-level error|warn|info|debug|trace] [--no-tcp-precheck]
//
// Exit codes: 0 done, 1 fatal (bad command, uncaught error, SDK crash), 2 global deadline,
// 3 could not connect, 4 finished but some wait_for timed out.
import './stdout_guard.ts';

import { createReadStream } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { setGlobalLogLevel, type LogLevel } from 'spacetimedb';
import { WebSocket as UndiciWebSocket } from 'undici';

import {
  dumpCache,
  errorMessage,
  reportReducer,
  watchTables,
  type DriverEvent,
  type JsonValue,
} from './driver_events.ts';
import { DbConnection, type SubscriptionHandle } from './module_bindings/index.ts';
import { writeJsonLine } from './stdout_guard.ts';

const EXIT_OK = 0;
const EXIT_FATAL = 1;
const EXIT_DEADLINE = 2;
const EXIT_CONNECT_FAILED = 3;
const EXIT_WAIT_FAILED = 4;

type Command = { op: string } & { [key: string]: JsonValue };

// ---------------------------------------------------------------- output and process exit

const history: DriverEvent[] = [];
const listeners = new Set<() => void>();
let exiting = false;

function emit(event: DriverEvent): void {
  if (exiting) return;
  history.push(event);
  writeJsonLine(event);
  for (const listener of [...listeners]) listener();
}

function finish(code: number): never {
  if (!exiting) {
    emit({ event: 'exit', code });
    exiting = true;
  }
  // stdout writes to pipes and files are synchronous on Linux, so nothing is lost here.
  process.exit(code);
}

function fatal(error: unknown, code: number = EXIT_FATAL): never {
  const stack = error instanceof Error && error.stack ? error.stack.split('\n').slice(0, 8) : [];
  emit({ event: 'fatal', error: errorMessage(error), stack });
  return finish(code);
}

process.on('uncaughtException', error => fatal(error));
process.on('unhandledRejection', reason => fatal(reason));

// ---------------------------------------------------------------- options

type Options = {
  uri: string;
  db: string;
  token?: string;
  compression: 'gzip' | 'none' | 'brotli';
  script: string;
  deadlineMs: number;
  connectTimeoutMs: number;
  light: boolean;
  confirmedReads?: boolean;
  sdkLogLevel?: LogLevel;
  tcpPrecheck: boolean;
};

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      uri: { type: 'string' },
      db: { type: 'string' },
      token: { type: 'string' },
      compression: { type: 'string', default: 'gzip' },
      script: { type: 'string', default: '-' },
      'deadline-ms': { type: 'string', default: '60000' },
      'connect-timeout-ms': { type: 'string', default: '10000' },
      light: { type: 'boolean', default: false },
      'confirmed-reads': { type: 'string' },
      'sdk-log-level': { type: 'string' },
      'no-tcp-precheck': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.uri) throw new Error('--uri is required');
  if (!values.db) throw new Error('--db is required');
  const compression = values.compression;
  if (compression !== 'gzip' && compression !== 'none' && compression !== 'brotli') {
    throw new Error(`--compression must be gzip, none or brotli, not ${compression}`);
  }
  const confirmed = values['confirmed-reads'];
  if (confirmed !== undefined && confirmed !== 'true' && confirmed !== 'false') {
    throw new Error('--confirmed-reads must be true or false');
  }
  const level = values['sdk-log-level'];
  const levels = ['error', 'warn', 'info', 'debug', 'trace'];
  if (level !== undefined && !levels.includes(level)) {
    throw new Error(`--sdk-log-level must be one of ${levels.join(', ')}`);
  }
  return {
    uri: values.uri,
    db: values.db,
    token: values.token,
    compression,
    script: values.script ?? '-',
    deadlineMs: positiveInt(values['deadline-ms'], '--deadline-ms'),
    connectTimeoutMs: positiveInt(values['connect-timeout-ms'], '--connect-timeout-ms'),
    light: values.light ?? false,
    confirmedReads: confirmed === undefined ? undefined : confirmed === 'true',
    sdkLogLevel: level as LogLevel | undefined,
    tcpPrecheck: !values['no-tcp-precheck'],
  };
}

function positiveInt(text: string | undefined, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

// ---------------------------------------------------------------- connecting

/** A plain TCP connect first: the SDK hangs forever on a refused loopback connection. */
async function tcpPrecheck(uri: string, timeoutMs: number): Promise<void> {
  const url = new URL(uri);
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`tcp precheck: no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`tcp precheck: ${error.code ?? error.message} connecting to ${host}:${port}`));
    });
  });
}

function connectionFailed(stage: string, error: unknown): never {
  emit({ event: 'connect_error', stage, error: errorMessage(error) });
  return finish(EXIT_CONNECT_FAILED);
}

let disconnectRequested = false;
let connected = false;

function openConnection(options: Options): { conn: DbConnection; ready: Promise<void> } {
  let settle!: () => void;
  const ready = new Promise<void>(resolve => {
    settle = resolve;
  });
  let builder = DbConnection.builder()
    .withUri(options.uri)
    .withDatabaseName(options.db)
    .withCompression(options.compression)
    .withLightMode(options.light)
    .onConnect((conn, identity, token) => {
      connected = true;
      emit({
        event: 'connected',
        identity: identity.toHexString(),
        token,
        connection_id: conn.connectionId.toHexString(),
      });
      settle();
    })
    .onConnectError((_ctx, error) => connectionFailed('websocket', error))
    .onDisconnect((_ctx, error) => {
      emit({
        event: 'disconnected',
        error: error === undefined ? null : errorMessage(error),
        requested: disconnectRequested,
      });
      // The SDK also reports a socket closed before InitialConnection as a disconnect.
      if (!connected) connectionFailed('closed_before_connect', error ?? 'socket closed');
    });
  if (options.token !== undefined) builder = builder.withToken(options.token);
  if (options.confirmedReads !== undefined) {
    builder = builder.withConfirmedReads(options.confirmedReads);
  }
  const conn = builder.build();
  watchTables(conn, emit);
  return { conn, ready };
}

// ---------------------------------------------------------------- waiting for events

// Indexes of events already returned by a wait_for: each event satisfies at most one wait.
const consumed = new Set<number>();

function matches(expected: JsonValue, actual: JsonValue | undefined): boolean {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([k, v]) => matches(v, actual[k]));
  }
  return JSON.stringify(expected) === JSON.stringify(actual);
}

/** Finds the earliest event not yet matched by a wait_for whose fields include `filter`. */
function waitForEvent(filter: { [key: string]: JsonValue }, timeoutMs: number): Promise<DriverEvent | null> {
  return new Promise(resolve => {
    const check = (): boolean => {
      for (let i = 0; i < history.length; i++) {
        if (!consumed.has(i) && matches(filter, history[i])) {
          consumed.add(i);
          done(history[i]);
          return true;
        }
      }
      return false;
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    const listener = (): void => {
      check();
    };
    function done(result: DriverEvent | null): void {
      clearTimeout(timer);
      listeners.delete(listener);
      resolve(result);
    }
    if (!check()) listeners.add(listener);
  });
}

// ---------------------------------------------------------------- commands

const subscriptions: SubscriptionHandle[] = [];
let waitFailures = 0;

function stringField(cmd: Command, key: string): string {
  const value = cmd[key];
  if (typeof value !== 'string') throw new Error(`${cmd.op}: "${key}" must be a string`);
  return value;
}

function hexToBytes(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`not a hex string: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

async function runCommand(conn: DbConnection, cmd: Command): Promise<'continue' | 'stop'> {
  const tag: { [key: string]: JsonValue } = cmd.id === undefined ? {} : { id: cmd.id };
  switch (cmd.op) {
    case 'subscribe': {
      const queries = cmd.queries;
      if (!Array.isArray(queries) || !queries.every(q => typeof q === 'string')) {
        throw new Error('subscribe: "queries" must be a list of SQL strings');
      }
      const index = subscriptions.length;
      const handle = conn
        .subscriptionBuilder()
        .onApplied(() => emit({ event: 'subscription_applied', subscription: index, queries, ...tag }))
        .onError(ctx =>
          emit({
            event: 'subscription_error',
            subscription: index,
            queries,
            error: ctx.event ? errorMessage(ctx.event) : null,
            ...tag,
          })
        )
        .subscribe(queries as string[]);
      subscriptions.push(handle);
      break;
    }
    case 'subscribe_all': {
      const index = subscriptions.length;
      conn
        .subscriptionBuilder()
        .onApplied(() =>
          emit({ event: 'subscription_applied', subscription: index, queries: 'all', ...tag })
        )
        .onError(ctx =>
          emit({
            event: 'subscription_error',
            subscription: index,
            queries: 'all',
            error: ctx.event ? errorMessage(ctx.event) : null,
            ...tag,
          })
        )
        .subscribeToAllTables();
      // subscribeToAllTables returns no handle; keep the numbering aligned anyway.
      subscriptions.push(undefined as unknown as SubscriptionHandle);
      break;
    }
    case 'unsubscribe': {
      const index = cmd.subscription;
      const handle = typeof index === 'number' ? subscriptions[index] : undefined;
      if (!handle) throw new Error(`unsubscribe: no subscription handle ${JSON.stringify(index)}`);
      handle.unsubscribeThen(() =>
        emit({ event: 'unsubscribe_applied', subscription: index, ...tag })
      );
      break;
    }
    case 'set_name': {
      const name = stringField(cmd, 'name');
      void reportReducer('set_name', () => conn.reducers.setName({ name }), emit, tag);
      break;
    }
    case 'send_message': {
      const text = stringField(cmd, 'text');
      void reportReducer('send_message', () => conn.reducers.sendMessage({ text }), emit, tag);
      break;
    }
    case 'call_reducer': {
      // Any reducer name with raw BSATN args, to exercise the server's error paths.
      const reducer = stringField(cmd, 'reducer');
      const args = hexToBytes(typeof cmd.args_hex === 'string' ? cmd.args_hex : '');
      void reportReducer(reducer, () => conn.callReducer(reducer, args), emit, tag);
      break;
    }
    case 'wait': {
      const ms = typeof cmd.ms === 'number' ? cmd.ms : 0;
      await new Promise(resolve => setTimeout(resolve, ms));
      break;
    }
    case 'wait_for': {
      const { op: _op, timeout_ms: timeout, id: _id, ...filter } = cmd;
      if (typeof filter.event !== 'string') throw new Error('wait_for: "event" must be a string');
      const timeoutMs = typeof timeout === 'number' ? timeout : 5000;
      const found = await waitForEvent(filter, timeoutMs);
      if (found) {
        emit({ event: 'wait_done', matched: found, ...tag });
      } else {
        waitFailures += 1;
        emit({ event: 'wait_timeout', filter, timeout_ms: timeoutMs, ...tag });
      }
      break;
    }
    case 'dump':
      emit({ ...dumpCache(conn), ...tag });
      break;
    case 'echo':
      emit({ event: 'echo', ...tag, data: cmd.data ?? null });
      break;
    case 'disconnect':
      await disconnect(conn);
      return 'stop';
    default:
      throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
  }
  return 'continue';
}

async function disconnect(conn: DbConnection): Promise<void> {
  if (disconnectRequested) return;
  disconnectRequested = true;
  if (!conn.isActive) return;
  const gone = waitForDisconnected(5000);
  conn.disconnect();
  await gone;
}

function waitForDisconnected(timeoutMs: number): Promise<void> {
  return new Promise(resolve => {
    const start = history.length;
    const timer = setTimeout(finishWait, timeoutMs);
    const listener = (): void => {
      if (history.slice(start).some(e => e.event === 'disconnected')) finishWait();
    };
    function finishWait(): void {
      clearTimeout(timer);
      listeners.delete(listener);
      resolve();
    }
    listeners.add(listener);
  });
}

function parseCommand(line: string): Command | null {
  const text = line.trim();
  if (text === '' || text.startsWith('#') || text.startsWith('//')) return null;
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`a command must be a JSON object: ${text}`);
  }
  if (typeof (value as { op?: unknown }).op !== 'string') {
    throw new Error(`a command needs a string "op": ${text}`);
  }
  return value as Command;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    fatal(error);
  }
  const deadline = setTimeout(
    () => fatal(new Error(`global deadline of ${options.deadlineMs} ms exceeded`), EXIT_DEADLINE),
    options.deadlineMs
  );
  void deadline;

  if (options.sdkLogLevel) setGlobalLogLevel(options.sdkLogLevel);
  // Node 20 has no global WebSocket; give the SDK undici's (what it would import itself).
  if (typeof globalThis.WebSocket === 'undefined') {
    (globalThis as { WebSocket?: unknown }).WebSocket = UndiciWebSocket;
  }

  // Read commands from the start so none are lost while connecting.
  const input =
    options.script === '-' ? process.stdin : createReadStream(options.script, { encoding: 'utf8' });
  // Create the iterator now: readline drops lines emitted before it exists.
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();

  if (options.tcpPrecheck) {
    try {
      await tcpPrecheck(options.uri, Math.min(options.connectTimeoutMs, 5000));
    } catch (error) {
      connectionFailed('tcp_precheck', error);
    }
  }

  const { conn, ready } = openConnection(options);
  const connectTimer = setTimeout(
    () =>
      connectionFailed(
        'timeout',
        new Error(`no InitialConnection within ${options.connectTimeoutMs} ms`)
      ),
    options.connectTimeoutMs
  );
  await ready;
  clearTimeout(connectTimer);

  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const line = next.value;
    let cmd: Command | null;
    try {
      cmd = parseCommand(line);
    } catch (error) {
      fatal(error);
    }
    if (cmd === null) continue;
    let outcome: 'continue' | 'stop';
    try {
      outcome = await runCommand(conn, cmd);
    } catch (error) {
      fatal(error);
    }
    if (outcome === 'stop') break;
  }
  // End of input: leave politely, so the server runs its disconnect path.
  await disconnect(conn);
  finish(waitFailures > 0 ? EXIT_WAIT_FAILED : EXIT_OK);
}

void main().catch(error => fatal(error));
