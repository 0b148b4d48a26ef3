// console.* from a handler becomes a `log` notification of its invocation, so it lands in the
// step's logs and trace like ctx.logger output, also from work the handler left running after
// it returned. Outside any invocation (module import time, runner-level code) it goes to
// stderr, which the core logs as the runner's output. Either way it never reaches the protocol
// channel.

import { Console } from 'node:console';
import util from 'node:util';
import { currentInvocation } from './invocation.mjs';

const LEVELS = { log: 'info', info: 'info', debug: 'debug', warn: 'warn', error: 'error' };

export function captureConsole() {
  const fallback = new Console({ stdout: process.stderr, stderr: process.stderr });
  for (const [method, level] of Object.entries(LEVELS)) {
    console[method] = (...args) => {
      const inv = currentInvocation.getStore();
      if (inv !== undefined) inv.log(level, util.format(...args), {});
      else fallback[method](...args);
    };
  }
}
