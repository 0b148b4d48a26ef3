// One invocation's bookkeeping: its ctx calls to the core, the wait for the ones the handler did
// not await, and its outcome.
//
// Every call becomes a request to the core tagged with the invocation id (PROTOCOL.md 3.4). The
// invocation tracks each call and waits for all of them before it answers, so a handler that
// forgets an `await` loses nothing. A call the handler never looked at and that failed is
// logged, the way an unawaited rejection would be, but never crashes the runner. Once the
// handler has returned, calls from work it left running (a timer, a promise it did not await)
// still go to the core, untracked: the core accepts them under the invocation's trace for a
// while (PROTOCOL.md 3.4) and otherwise answers with an error that names the step. Once the
// invocation was stopped (cancelled, timed out) its calls fail at once: the core would refuse
// them anyway.
//
// This is the hot path of every ctx call. The AsyncLocalStorage below makes Node run a hook for
// every promise created and every promise job, so a call makes one promise (the one the handler
// gets), settled straight from the endpoint's answer, and an invocation's end is reported by a
// plain callback.

import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import util from 'node:util';
import { InvocationNotFound, MessageTooLarge, RequestCancelled } from './errors.mjs';

/** The invocation whose handler is running, through every await, timer and callback. */
export const currentInvocation = new AsyncLocalStorage();

const ignore = () => {};
// How many microtasks drain() leaves the continuations of settled calls to start more calls (an
// await on a call resumes one after it settles).
const SETTLE_TURNS = 2;
const macrotask = () => new Promise((resolve) => {
  setImmediate(resolve);
});

// Failed calls, by their promise. A call's promise is a plain Promise (a subclass that noticed
// then() cost about 1 us per awaited call); whether the handler looked at a failed one is what
// Node's own rejection tracking says: 'unhandledRejection' for a promise nobody handled by the
// end of its task, 'rejectionHandled' when a handler comes later (the runner routes both here).
const failed = new WeakMap();

/** Node reports `promise` unhandled; true when it is a ctx call's (drain() will say it). */
export function unhandledCall(promise) {
  const call = failed.get(promise);
  if (call === undefined) return false;
  call.unhandled = true;
  return true;
}

/** A handler came late for `promise`'s rejection; true when it is a ctx call's. */
export function handledCall(promise) {
  const call = failed.get(promise);
  if (call === undefined) return false;
  call.unhandled = false;
  return true;
}

/** One ctx call in flight; the endpoint settles it (it is the request's waiter), or an abort. */
class Call {
  constructor(inv) {
    this.inv = inv;
    this.settled = false;
    this.error = null;
    this.unhandled = false;
    this.fulfil = null;
    this.fail = null;
    this.promise = new Promise((resolve, reject) => {
      this.fulfil = resolve;
      this.fail = reject;
    });
  }

  resolve(result) {
    if (this.settled) return;
    this.settled = true;
    this.fulfil(result);
    this.inv.callSettled();
  }

  reject(error) {
    if (this.settled) return;
    this.settled = true;
    this.error = error;
    failed.set(this.promise, this);
    this.inv.failures += 1;
    this.fail(error);
    this.inv.callSettled();
  }
}

export class Invocation {
  /** `onEnd(outcome)` runs once, when the invocation ends ({output} or {error}). */
  constructor(id, endpoint, streamNames, step = null, onEnd = ignore) {
    this.id = id;
    this.step = step; // named in errors for the step's author
    this.endpoint = endpoint;
    this.streamNames = streamNames;
    this.onEnd = onEnd;
    this.calls = [];
    this.unsettled = 0;
    this.failures = 0;
    this.wakeDrain = null;
    this.ended = false;
    this.aborted = false; // ended by a stop (cancel, deadline) rather than by the handler
    this.outcome = null;
    this.whenDone = null;
  }

  /** A promise of the outcome (made on demand: only shutdown waits on it). */
  get done() {
    this.whenDone ??= new Promise((resolve) => {
      if (this.ended) resolve(this.outcome);
      else this.onEnd = chain(this.onEnd, resolve);
    });
    return this.whenDone;
  }

  /** Start a callback now; the returned promise settles with the core's answer. */
  call(method, params) {
    params.invocationId = this.id;
    if (this.aborted) {
      const who = this.step === null ? `invocation ${this.id}`
        : `step '${this.step.wireConfig?.name}' (${path.basename(this.step.file)})`;
      return Promise.reject(new InvocationNotFound(`${who} called ctx.${method} after `
        + 'it was stopped (its time ran out or it was cancelled): stop that work when the '
        + 'handler stops, or emit an event and do it in an event step'));
    }
    if (this.ended) return this.lateCall(method, params);
    const call = new Call(this);
    this.calls.push(call);
    this.unsettled += 1;
    try {
      this.endpoint.send(method, params, call);
    } catch (error) {
      call.reject(error); // too large to send
    }
    return call.promise;
  }

  callSettled() {
    this.unsettled -= 1;
    if (this.unsettled === 0 && this.wakeDrain !== null) {
      const wake = this.wakeDrain;
      this.wakeDrain = null;
      wake();
    }
  }

  /** A call from work the handler left running; a refusal is said on the step's log too. */
  lateCall(method, params) {
    return Promise.resolve().then(() => this.endpoint.request(method, params))
      .catch((error) => {
        if (error instanceof InvocationNotFound) {
          this.log('error', error.message, {});
          error.logged = true; // strayError need not say it again
        }
        throw error;
      });
  }

  /** Wait for calls the handler did not await (and for any their continuations start at once),
   * then report the failures nobody looked at. null when the handler made no call. */
  drain() {
    return this.calls.length === 0 ? null : this.drainCalls();
  }

  async drainCalls() {
    let judged = 0; // failures Node has had a task's end to call unhandled (or not)
    for (;;) {
      if (this.unsettled > 0) {
        await new Promise((resolve) => {
          this.wakeDrain = resolve;
        });
      }
      for (let turn = 0; turn < SETTLE_TURNS; turn += 1) await null;
      if (this.unsettled > 0) continue;
      if (this.failures === judged) break;
      judged = this.failures;
      await macrotask();
    }
    for (const call of this.calls) {
      if (call.error !== null && call.unhandled) {
        this.log('error', 'a ctx call that was not awaited failed', {
          error: `${call.error.name}: ${call.error.message}` });
      }
    }
  }

  /** End the invocation with {output} or {error}; the first outcome wins. */
  complete(outcome) {
    if (this.ended) return false;
    this.ended = true;
    this.outcome = outcome;
    this.onEnd(outcome);
    return true;
  }

  /** Stop early (cancelled, timed out, a stray error): answer now, fail the calls in flight. */
  abort(error) {
    if (!this.complete({ error })) return;
    this.aborted = true;
    const reason = new RequestCancelled(`the invocation ended before the core answered: ${error.message}`);
    for (const call of this.calls) call.reject(reason);
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

function chain(first, second) {
  return (outcome) => {
    first(outcome);
    second(outcome);
  };
}
