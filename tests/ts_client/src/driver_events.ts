// The JSON event vocabulary of the chat driver, shared with the offline smoke test so that both
// report SDK callbacks the same way. One event = one JSON object with an `event` field.

import { ConnectionId, Identity, InternalError, SenderError, Timestamp } from 'spacetimedb';

import { DbConnection, type EventContext } from './module_bindings/index.ts';

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export type DriverEvent = { event: string } & { [key: string]: JsonValue };

export type Emit = (event: DriverEvent) => void;

const HEX = '0123456789abcdef';

function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b >> 4] + HEX[b & 15];
  return out;
}

function bigintToJson(value: bigint): number | string {
  // Micros since the epoch fit a double exactly; larger values stay exact as strings.
  return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
}

/** Converts SDK values to JSON: Identity/ConnectionId -> hex, Timestamp -> micros, bigint -> number. */
export function toJson(value: unknown): JsonValue {
  if (value === undefined || value === null) return null;
  if (value instanceof Identity) return value.toHexString();
  if (value instanceof ConnectionId) return value.toHexString();
  if (value instanceof Timestamp) return bigintToJson(value.microsSinceUnixEpoch);
  if (typeof value === 'bigint') return bigintToJson(value);
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (value instanceof Uint8Array) return bytesToHex(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Error) return errorMessage(value);
  if (typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = toJson(v);
    return out;
  }
  return String(value);
}

/** A one-line description of anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  }
  if (error && typeof error === 'object' && 'message' in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** What caused a row callback: the SDK event tag, plus the reducer for this client's own calls. */
export function describeCause(ctx: EventContext): { [key: string]: JsonValue } {
  const event = ctx.event;
  if (event.tag === 'Reducer') {
    return {
      cause: 'Reducer',
      cause_reducer: event.value.reducer.name,
      cause_timestamp: toJson(event.value.timestamp),
    };
  }
  return { cause: event.tag };
}

/** Registers row callbacks for both chat tables; each fires one event. */
export function watchTables(conn: DbConnection, emit: Emit): void {
  conn.db.user.onInsert((ctx, row) => {
    emit({ event: 'user_insert', row: toJson(row), ...describeCause(ctx) });
  });
  conn.db.user.onUpdate((ctx, oldRow, newRow) => {
    emit({ event: 'user_update', old: toJson(oldRow), new: toJson(newRow), ...describeCause(ctx) });
  });
  conn.db.user.onDelete((ctx, row) => {
    emit({ event: 'user_delete', row: toJson(row), ...describeCause(ctx) });
  });
  conn.db.message.onInsert((ctx, row) => {
    emit({
      event: 'message_insert',
      sender: toJson(row.sender),
      sent: toJson(row.sent),
      text: row.text,
      row: toJson(row),
      ...describeCause(ctx),
    });
  });
  conn.db.message.onDelete((ctx, row) => {
    emit({ event: 'message_delete', row: toJson(row), ...describeCause(ctx) });
  });
}

/** The client cache as JSON: rows of both tables in cache order. */
export function dumpCache(conn: DbConnection): DriverEvent {
  const users = Array.from(conn.db.user.iter(), toJson);
  const messages = Array.from(conn.db.message.iter(), toJson);
  return {
    event: 'dump',
    user: users,
    message: messages,
    counts: { user: users.length, message: messages.length },
  };
}

/** Maps a reducer call's outcome to a `reducer_result` event. */
export async function reportReducer(
  reducer: string,
  call: () => Promise<void>,
  emit: Emit,
  extra: { [key: string]: JsonValue } = {}
): Promise<void> {
  try {
    await call();
    emit({ event: 'reducer_result', reducer, status: 'ok', error: null, ...extra });
  } catch (error) {
    // SenderError = the reducer returned Err(string); InternalError = host-side failure.
    const status =
      error instanceof SenderError
        ? 'err'
        : error instanceof InternalError
          ? 'internal_error'
          : 'failed';
    const message = error instanceof Error ? error.message : errorMessage(error);
    emit({ event: 'reducer_result', reducer, status, error: message, ...extra });
  }
}
