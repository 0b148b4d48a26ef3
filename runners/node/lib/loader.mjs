// Importing step and stream files, and what the runner keeps of each.
//
// A file is imported under its own file: URL (the hooks in hooks.mjs compile TypeScript and
// fix up resolution), so its imports resolve as its author expects. Exports: named `config`
// and `handler`, or `export default { config, handler }` (CommonJS `module.exports` arrives as
// the default export). A reload imports the file under a fresh URL (`?motia-reload=N`) so Node
// evaluates it again; a CommonJS file is also dropped from require's cache. The modules it
// imports are shared, not re-run, as they are for the Python runner.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidConfig, userStack } from './errors.mjs';
import { bodyValidator, wireConfig } from './schemas.mjs';

const requireCache = createRequire(import.meta.url).cache;

/** What invocations need from one loaded file, resolved once. */
export class Step {
  constructor(fields) {
    Object.assign(this, fields);
    Object.freeze(this);
  }
}

export class Loader {
  constructor(root) {
    this.root = path.resolve(root);
    this.reloads = 0;
  }

  setRoot(root) {
    this.root = path.resolve(root);
  }

  rel(file) {
    const relative = path.relative(this.root, file);
    return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative.split(path.sep).join('/');
  }

  /** Import `file` (afresh when `reload`) and extract its exports; InvalidConfig if it cannot. */
  async load(file, reload) {
    const rel = this.rel(file);
    if (!path.isAbsolute(file) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw new InvalidConfig(`${rel}: no such file; steps.load needs absolute paths of existing files`);
    }
    let url = pathToFileURL(file).href;
    if (reload) {
      this.reloads += 1;
      url += `?motia-reload=${this.reloads}`;
      delete requireCache[file];
    }
    let mod;
    try {
      mod = await import(url);
    } catch (error) {
      throw new InvalidConfig(importMessage(rel, error), { stack: userStack(error) });
    }
    return stepFrom(file, rel, mod);
  }
}

function importMessage(rel, error) {
  const what = `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`.split('\n')[0];
  const missing = /Cannot find (?:package|module) '([^']+)'/.exec(String(error?.message));
  let fix;
  if (missing && !missing[1].startsWith('.') && !missing[1].startsWith('/')) {
    const name = missing[1].startsWith('@') ? missing[1].split('/').slice(0, 2).join('/')
      : missing[1].split('/')[0];
    fix = `install it in the project (npm install ${name}), or fix the import if '${name}' is a `
      + 'file of the project';
  } else if (missing) {
    fix = `fix the import path: ${missing[1]} does not exist`;
  } else if (error instanceof SyntaxError || error?.name === 'SyntaxError') {
    fix = 'fix the syntax error; the other steps were loaded';
  } else {
    fix = 'fix the error raised while importing it (stack in data.stack)';
  }
  return `${rel} could not be imported: ${what}. To fix: ${fix}`;
}

function pick(mod, name) {
  if (mod[name] !== undefined) return mod[name];
  const fallback = mod.default;
  return fallback !== null && typeof fallback === 'object' ? fallback[name] : undefined;
}

async function stepFrom(file, rel, mod) {
  const config = pick(mod, 'config');
  if (config === undefined || config === null) {
    throw new InvalidConfig(`${rel} exports no \`config\`; add \`export const config = { type: 'event', `
      + "name: 'MyStep', subscribes: [...], emits: [] }` (or export default { config, handler })");
  }
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new InvalidConfig(`${rel}: \`config\` must be an object, got ${Array.isArray(config) ? 'an array' : typeof config}`);
  }
  const middleware = config.middleware ?? [];
  if (!Array.isArray(middleware) || !middleware.every((m) => typeof m === 'function')) {
    throw new InvalidConfig(`${rel}: config.middleware must be an array of functions `
      + '`async (req, ctx, next) => response`');
  }
  const handler = pick(mod, 'handler');
  const validateBody = bodyValidator(config, file);
  return new Step({
    file,
    config,
    wireConfig: await wireConfig(config, file, rel),
    handler: typeof handler === 'function' ? handler : null,
    middleware: Object.freeze([...middleware]),
    canAccess: typeof config.canAccess === 'function' ? config.canAccess : null,
    validateBody,
  });
}
