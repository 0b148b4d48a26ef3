// motia-node-runner: runs Motia TypeScript and JavaScript steps for motia-core over protocol v1
// (JSON-RPC on stdio). Started by the core as `node <repo>/runners/node/runner.mjs` with the
// project root as its working directory.
//
// stdio is claimed before any user code runs, so nothing can write to the protocol channel by
// accident. The runner's own dependencies (esbuild, zod-to-json-schema) resolve from
// runners/node/node_modules; the steps' imports resolve from the project.

import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { claimStdio } from './lib/channel.mjs';

const { inFd, out } = claimStdio();

function fatal(message) {
  process.stderr.write(`motia-node-runner: ${message}\n`);
  process.exit(78); // EX_CONFIG: nothing the core can fix by restarting
}

if (typeof register !== 'function') {
  fatal(`Node.js ${process.versions.node} is too old: the runner needs 20.6 or newer (module.register)`);
}
try {
  const require = createRequire(import.meta.url);
  for (const dependency of ['esbuild', 'zod-to-json-schema']) require.resolve(dependency);
} catch (error) {
  fatal(`its dependencies are not installed (${error.message.split('\n')[0]}); run `
    + `\`npm ci --prefix ${new URL('.', import.meta.url).pathname}\``);
}

const root = process.env.MOTIA_PROJECT_ROOT || process.cwd();
process.setSourceMapsEnabled(true);
const { port1: hooks, port2 } = new MessageChannel();
hooks.unref();
register('./lib/hooks.mjs', import.meta.url, { data: { root, port: port2 }, transferList: [port2] });

const { Server } = await import('./lib/server.mjs');
const { captureConsole } = await import('./lib/console.mjs');
const { handledCall, unhandledCall } = await import('./lib/invocation.mjs');

const server = new Server(inFd, out, root, () => hooks.postMessage('loaded'));
captureConsole();
process.on('uncaughtException', (error) => server.strayError(error, 'uncaught exception'));
process.on('unhandledRejection', (reason, promise) => {
  if (!unhandledCall(promise)) server.strayError(reason, 'unhandled rejection');
});
// A listener here silences Node's own warning for every promise: other promises get it as Node
// words it (its rejection id refers to a message Node does not print, the listener above being set).
process.on('rejectionHandled', (promise) => {
  if (!handledCall(promise)) {
    process.emitWarning('Promise rejection was handled asynchronously', 'PromiseRejectionHandledWarning');
  }
});

const code = await server.run();
await server.endpoint.writer.close();
process.exit(code);
