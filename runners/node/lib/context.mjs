// The ctx object TypeScript/JavaScript handlers receive (MOTIA_CONTRACT.md 3.2).
//
// Every call becomes a request to the core tagged with the invocation id (PROTOCOL.md 3.4). The
// invocation tracks each call's promise and waits for all of them before it answers, so a
// handler that forgets an `await` loses nothing. A call the handler never looked at and that
// failed is logged, the way an unawaited rejection would be, but never crashes the runner.
// Once the handler has returned, calls from work it left running (a timer, a promise it did not
// await) still go to the core, untracked: the core accepts them under the invocation's trace for
// a while (PROTOCOL.md 3.4) and otherwise answers with an error that names the step. Once the
// invocation was stopped (cancelled, timed out) its calls fail at once: the core would refuse
// them anyway.

import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import util from 'node:util';
import { InvocationNotFound, MessageTooLarge, RequestCancelled, userStack } from './errors.mjs';

/** The invocation whose handler is running, through every await, timer and callback. */
export const currentInvocation = new AsyncLocalStorage();

/** A promise that notices being awaited (or then'd), so unawaited failures can be reported. */
class CallPromise extends Promise {
  static get [Symbol.species]() {
    return Promise;
  }

  then(onFulfilled, onRejected) {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

const nativeThen = Promise.prototype.then;
const key = (value) => (typeof value === 'string' || value === null || value === undefined
  ? value : String(value));
const json = (value) => (value === undefined ? null : value);

export class Invocation {
  constructor(id, endpoint, streamNames, step = null) {
    this.id = id;
    this.step = step; // named in errors for the step's author
    this.endpoint = endpoint;
    this.streamNames = streamNames;
    this.calls = [];
    this.ended = false;
    this.aborted = false; // ended by a stop (cancel, deadline) rather than by the handler
    this.outcome = null;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Start a callback now; the returned promise settles with the core's answer. */
  call(method, params) {
    params.invocationId = this.id;
    if (this.aborted) {
      const who = this.step === null ? `invocation ${this.id}`
        : `step '${this.step.wireConfig?.name}' (${path.basename(this.step.file)})`;
      return CallPromise.reject(new InvocationNotFound(`${who} called ctx.${method} after `
        + 'it was stopped (its time ran out or it was cancelled): stop that work when the '
        + 'handler stops, or emit an event and do it in an event step'));
    }
    if (this.ended) return this.lateCall(method, params);
    const record = { promise: null, reject: null, settled: false, error: null, tracked: null };
    const promise = new CallPromise((resolve, reject) => {
      record.reject = reject;
      nativeThen.call(this.endpoint.request(method, params), resolve, reject);
    });
    record.promise = promise;
    record.tracked = nativeThen.call(promise, () => { record.settled = true; }, (error) => {
      record.settled = true;
      record.error = error;
    });
    this.calls.push(record);
    return promise;
  }

  /** A call from work the handler left running; a refusal is said on the step's log too. */
  lateCall(method, params) {
    return nativeThen.call(Promise.resolve(), () => this.endpoint.request(method, params))
      .catch((error) => {
        if (error instanceof InvocationNotFound) {
          this.log('error', error.message, {});
          error.logged = true; // strayError need not say it again
        }
        throw error;
      });
  }

  /** Wait for calls the handler did not await; report the failures nobody looked at. */
  async drain() {
    let seen = 0;
    while (seen < this.calls.length) {
      const batch = this.calls.slice(seen).map((record) => record.tracked);
      seen = this.calls.length;
      await Promise.all(batch);
    }
    for (const record of this.calls) {
      if (record.error !== null && !record.promise.observed) {
        this.log('error', 'a ctx call that was not awaited failed', {
          error: `${record.error.name}: ${record.error.message}` });
      }
    }
  }

  /** End the invocation with {output} or {error}; the first outcome wins. */
  complete(outcome) {
    if (this.ended) return false;
    this.ended = true;
    this.outcome = outcome;
    this.resolveDone(outcome);
    return true;
  }

  /** Stop early (cancelled, timed out, a stray error): answer now, fail the calls in flight. */
  abort(error) {
    if (!this.complete({ error })) return;
    this.aborted = true;
    const reason = new RequestCancelled(`the invocation ended before the core answered: ${error.message}`);
    for (const record of this.calls) {
      if (!record.settled) record.reject(reason);
    }
  }

  log(level, msg, fields) {
    const params = { invocationId: this.id, level, msg, fields };
    try {
      this.endpoint.notify('log', params);
    } catch (error) {
      if (error instanceof MessageTooLarge) {
        params.msg = `${msg.slice(0, 4096)} [log record over maxMessageBytes; fields dropped]`;
        params.fields = {};
      } else {
        params.fields = { data: util.inspect(fields, { depth: 4 }).slice(0, 4096) };
      }
      this.endpoint.notify('log', params);
    }
  }
}

function expandError(error) {
  return { message: error.message, stack: userStack(error), name: error.name };
}

function logFields(args, meta) {
  let fields;
  if (args === undefined || args === null) fields = {};
  else if (args instanceof Error) fields = { error: expandError(args) };
  else if (typeof args === 'object' && !Array.isArray(args)) fields = { ...args };
  else fields = { data: args };
  if (fields.error instanceof Error) fields.error = expandError(fields.error);
  return meta === null ? fields : { ...meta, ...fields };
}

function logMessage(message) {
  return typeof message === 'string' ? message : util.inspect(message, { depth: 4 });
}

/** ctx.logger: info|warn|error|debug(message, fields?), fields merged flat. */
export class Logger {
  constructor(inv, meta = null) {
    this.inv = inv;
    this.meta = meta;
  }

  info(message, args) { this.inv.log('info', logMessage(message), logFields(args, this.meta)); }

  warn(message, args) { this.inv.log('warn', logMessage(message), logFields(args, this.meta)); }

  error(message, args) { this.inv.log('error', logMessage(message), logFields(args, this.meta)); }

  debug(message, args) { this.inv.log('debug', logMessage(message), logFields(args, this.meta)); }

  /** A logger whose records all carry `meta`. */
  child(meta) { return new Logger(this.inv, { ...this.meta, ...meta }); }
}

/** ctx.state: free-form group ids, JSON values. */
export class State {
  constructor(inv) { this.inv = inv; }

  get(groupId, k) { return this.inv.call('state.get', { group: key(groupId), key: key(k) }); }

  set(groupId, k, value) {
    return this.inv.call('state.set', { group: key(groupId), key: key(k), value: json(value) });
  }

  delete(groupId, k) { return this.inv.call('state.delete', { group: key(groupId), key: key(k) }); }

  getGroup(groupId) { return this.inv.call('state.getGroup', { group: key(groupId) }); }

  clear(groupId) { return this.inv.call('state.clear', { group: key(groupId) }); }
}

/** ctx.streams.<name>: items addressed by group id and item id. */
export class Stream {
  constructor(inv, name) {
    this.inv = inv;
    this.name = name;
  }

  get(groupId, id) {
    return this.inv.call('streams.get', { stream: this.name, group: key(groupId), id: key(id) });
  }

  set(groupId, id, data) {
    return this.inv.call('streams.set', { stream: this.name, group: key(groupId), id: key(id),
      data: json(data) });
  }

  delete(groupId, id) {
    return this.inv.call('streams.delete', { stream: this.name, group: key(groupId), id: key(id) });
  }

  getGroup(groupId) {
    return this.inv.call('streams.getGroup', { stream: this.name, group: key(groupId) });
  }

  send(channel, event) {
    return this.inv.call('streams.send', { stream: this.name, channel, event });
  }
}

/** What a handler gets as ctx; every member survives destructuring ({ emit, state } = ctx). */
export class Context {
  constructor(inv, trace, flows) {
    this.traceId = trace.traceId;
    // The W3C context of the step's span, to pass on to outgoing calls (PROTOCOL.md 3.9).
    this.traceparent = typeof trace.traceparent === 'string' ? trace.traceparent : null;
    this.tracestate = typeof trace.tracestate === 'string' ? trace.tracestate : null;
    this.flows = flows;
    this.logger = new Logger(inv);
    this.state = new State(inv);
    this.emit = (event) => {
      if (event === null || typeof event !== 'object') {
        throw new TypeError(`ctx.emit expects an object { topic, data }, got ${typeof event}`);
      }
      const params = { topic: event.topic, data: json(event.data) };
      if (event.messageGroupId !== undefined && event.messageGroupId !== null) {
        params.messageGroupId = event.messageGroupId;
      }
      return inv.call('emit', params);
    };
    let streams = null;
    Object.defineProperty(this, 'streams', {
      enumerable: true,
      get: () => {
        streams ??= Object.fromEntries(inv.streamNames.map((name) => [name, new Stream(inv, name)]));
        return streams;
      },
    });
  }
}
