// JSON-RPC 2.0 over the channel: decode lines, route them, match responses, frame replies.
//
// The endpoint knows nothing about steps. Requests and notifications from the core go to the two
// callbacks the server installs; responses settle the promises of the runner's own requests
// (state.*, emit, streams.*). Every outgoing message is checked against maxMessageBytes before
// it is written, so an oversized result becomes an error instead of a line the core would treat
// as a protocol violation.

import { LineReader, Writer } from './channel.mjs';
import { InvalidRequest, MessageTooLarge, ParseError, RpcError } from './errors.mjs';
import { findIds } from './oversize.mjs';

const MAX_ERROR_TEXT = 4096;

export class Endpoint {
  constructor(inFd, out, { onRequest, onNotification, onClosed }) {
    this.maxBytes = 16 * 1024 * 1024;
    this.onRequest = onRequest;
    this.onNotification = onNotification;
    this.onClosed = onClosed;
    this.pending = new Map();
    this.nextId = 0;
    this.writer = new Writer(out, () => onClosed(1));
    this.reader = new LineReader(inFd, {
      onLine: (line) => this.onLine(line),
      onOversized: (big) => this.onOversized(big),
      onEof: () => onClosed(0),
    });
  }

  /** Apply the limit the core announced in initialize, to both directions. */
  setMaxBytes(limit) {
    this.maxBytes = limit;
    this.reader.maxBytes = limit;
  }

  // --- incoming ------------------------------------------------------------------------------

  onLine(line) {
    let msg;
    try {
      msg = JSON.parse(line.toString('utf8'));
    } catch (exc) {
      this.sendError(null, new ParseError(`not a JSON line: ${exc.message}`));
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || msg.jsonrpc !== '2.0') {
      const id = msg !== null && typeof msg === 'object' && !Array.isArray(msg) ? msg.id ?? null : null;
      this.sendError(id, new InvalidRequest('expected a JSON-RPC 2.0 object with "jsonrpc": "2.0"'));
      return;
    }
    const { method } = msg;
    if (method === undefined) {
      this.onResponse(msg);
    } else if (typeof method !== 'string') {
      this.sendError(msg.id ?? null, new InvalidRequest('"method" must be a string'));
    } else if ('id' in msg) {
      this.onRequest(msg.id, method, msg.params);
    } else {
      this.onNotification(method, msg.params);
    }
  }

  onResponse(msg) {
    const waiter = this.pending.get(msg.id);
    if (waiter === undefined) return; // an answer to a call whose caller gave up
    this.pending.delete(msg.id);
    if (msg.error !== undefined && msg.error !== null) waiter.reject(RpcError.fromError(msg.error));
    else waiter.resolve(msg.result === undefined ? null : msg.result);
  }

  onOversized(big) {
    const fields = findIds(big);
    const error = new MessageTooLarge(
      `received a message of ${big.size} bytes, over maxMessageBytes=${this.maxBytes}`);
    const { id } = fields;
    const waiter = !('method' in fields) && id !== undefined ? this.pending.get(id) : undefined;
    if (waiter !== undefined) {
      this.pending.delete(id);
      waiter.reject(error);
    } else if (id !== undefined && id !== null) {
      this.sendError(id, error);
    } else {
      process.stderr.write(`motia-node-runner: ${error.message} and its id cannot be found; exiting\n`);
      this.onClosed(1);
    }
  }

  // --- outgoing ------------------------------------------------------------------------------

  frame(message) {
    const data = JSON.stringify(message);
    // A string's UTF-8 size is at most 3 bytes per UTF-16 unit: measure only when it matters.
    if (data.length * 3 > this.maxBytes) {
      const size = Buffer.byteLength(data, 'utf8');
      if (size > this.maxBytes) {
        throw new MessageTooLarge(`${message.method || 'response'} would be ${size} bytes, over `
          + `maxMessageBytes=${this.maxBytes}`);
      }
    }
    return `${data}\n`;
  }

  /** Send a request to the core; the promise settles with its result or an RpcError. */
  request(method, params) {
    return new Promise((resolve, reject) => this.send(method, params, { resolve, reject }));
  }

  /** Send a request whose answer goes to `waiter.resolve(result)` or `waiter.reject(RpcError)`
   * (no promise of its own: ctx calls settle theirs directly). Throws MessageTooLarge, and
   * sends nothing, when the request does not fit. */
  send(method, params, waiter) {
    this.nextId += 1;
    const id = this.nextId;
    const line = this.frame({ jsonrpc: '2.0', id, method, params });
    this.pending.set(id, waiter);
    this.writer.write(line);
  }

  notify(method, params) {
    this.writer.write(this.frame({ jsonrpc: '2.0', method, params }));
  }

  /** Answer a request. Encoding errors throw; an oversized result is answered MessageTooLarge. */
  respond(id, result) {
    let line;
    try {
      line = this.frame({ jsonrpc: '2.0', id, result: result === undefined ? null : result });
    } catch (exc) {
      if (exc instanceof MessageTooLarge) {
        this.sendError(id, exc);
        return;
      }
      throw exc;
    }
    this.writer.write(line);
  }

  /** Answer with an error, shedding data (then text) to fit the limit. */
  sendError(id, error) {
    const body = error.toError();
    let line;
    try {
      line = this.frame({ jsonrpc: '2.0', id, error: body });
    } catch {
      delete body.data;
      body.message = String(body.message).slice(0, MAX_ERROR_TEXT);
      line = this.frame({ jsonrpc: '2.0', id, error: body });
    }
    this.writer.write(line);
  }

  /** Fail every request still waiting for the core (the runner is exiting). */
  failPending(error) {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
