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
const ignore = () => {};
// How many microtasks drain() leaves the continuations of settled calls to start more calls: an
// await on a call resumes two after it settles.
const SETTLE_TURNS = 2;

/** One ctx call in flight; the endpoint settles it (it is the request's waiter), or an abort. */
class Call {
  constructor(inv) {
    this.inv = inv;
    this.settled = false;
    this.error = null;
    this.fulfil = null;
    this.fail = null;
    this.promise = new CallPromise((resolve, reject) => {
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
    // Not looked at yet: drain() reports it, so it must not count as an unhandled rejection.
    if (!this.promise.observed) nativeThen.call(this.promise, undefined, ignore);
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
      return CallPromise.reject(new InvocationNotFound(`${who} called ctx.${method} after `
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
    return nativeThen.call(Promise.resolve(), () => this.endpoint.request(method, params))
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
    do {
      if (this.unsettled > 0) {
        await new Promise((resolve) => {
          this.wakeDrain = resolve;
        });
      }
      for (let turn = 0; turn < SETTLE_TURNS; turn += 1) await null;
    } while (this.unsettled > 0);
    for (const call of this.calls) {
      if (call.error !== null && !call.promise.observed) {
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
