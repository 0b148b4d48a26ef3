// Running one step: Motia's call convention, body validation, the middleware onion, the
// deadline, and the error shape.
//
// A handler runs inside `currentInvocation`, so console output, ctx calls and even errors
// thrown later from its stray timers and promises are attributed to it. A JavaScript promise
// cannot be cancelled: on a deadline or a $/cancelRequest the invocation is answered at once,
// its ctx calls in flight fail, and any later ones fail immediately, so a handler that is still
// running unwinds at its next await. After the handler returns, the ctx calls it did not await
// are drained before the answer goes out, because the core refuses callbacks for an invocation
// that has ended.

import path from 'node:path';
import { Context } from './context.mjs';
import { Deadlines } from './deadlines.mjs';
import { currentInvocation } from './invocation.mjs';
import { RequestCancelled, TimedOut, handlerError } from './errors.mjs';
import { withSpanContext } from './otel.mjs';

const MAX_TIMER_MS = 2 ** 31 - 1;
const deadlines = new Deadlines();

function runHandler(step, trigger, input, ctx, check) {
  return withSpanContext(ctx.traceparent, ctx.tracestate,
    () => callHandler(step, trigger, input, ctx, check));
}

function callHandler(step, trigger, input, ctx, check) {
  if (trigger === 'cron') return step.handler(ctx);
  if (trigger !== 'api') return step.handler(input, ctx);
  return withMiddleware(step, input, ctx, check);
}

/**
 * First middleware outermost; `next()` takes no arguments and returns the response. The body
 * is checked after the chain, just before the handler (PROTOCOL.md 3.3): `check` resolves to
 * null for a body that fits, or to the 400 response that stands for the handler's.
 */
function withMiddleware(step, req, ctx, check) {
  const chain = step.middleware;
  const inner = check === null ? () => step.handler(req, ctx)
    : async () => (await check(req?.body)) ?? step.handler(req, ctx);
  if (chain.length === 0) return inner();
  const at = async (index) => (index === chain.length ? inner()
    : chain[index](req, ctx, () => at(index + 1)));
  return at(0);
}

/** How an api body is checked: zod in the runner, the core (`body.validate`), or not at all. */
function bodyCheck(inv, step, { validateBody = false, validateBodies = true }) {
  if (!validateBodies) return null;
  if (step.validateBody !== null) return step.validateBody;
  if (!validateBody) return null;
  return (body) => inv.call('body.validate', { body: body ?? null });
}

/** Stop `inv` early: the core cancelled it, or its deadline passed. */
export function stop(inv, reason, step, timeoutMs) {
  const error = reason === 'timeout'
    ? new TimedOut(`${path.basename(step.file)} ran past timeoutMs=${timeoutMs}`)
    : new RequestCancelled('cancelled by the core ($/cancelRequest)');
  inv.abort(error);
}

/** Run the handler and complete `inv` with {output} (falsy -> null) or {error}. */
export async function execute(inv, step, trigger, input, trace, flows, timeoutMs, options = {}) {
  const ctx = new Context(inv, trace, flows);
  const check = trigger === 'api' ? bodyCheck(inv, step, options) : null;
  // Past setTimeout's range (about 24.8 days) Node would fire at once; the core still enforces it.
  const deadline = timeoutMs === undefined || timeoutMs === null || timeoutMs > MAX_TIMER_MS ? null
    : deadlines.add(timeoutMs, () => stop(inv, 'timeout', step, timeoutMs));
  try {
    // Called directly, not through an async wrapper: a synchronous throw lands in the catch
    // all the same, and an async handler's promise is awaited without a promise around it.
    const output = await currentInvocation.run(inv, runHandler, step, trigger, input, ctx, check);
    const draining = inv.drain();
    if (draining !== null) await draining;
    inv.complete({ output: output || null });
  } catch (error) {
    const draining = inv.drain();
    if (draining !== null) await draining;
    inv.complete({ error: handlerError(error) });
  } finally {
    if (deadline !== null) deadlines.cancel(deadline);
  }
}
