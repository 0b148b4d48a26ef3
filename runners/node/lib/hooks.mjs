// Module customization hooks (module.register): how step files and their imports load.
//
// Step files keep their own URLs, so imports resolve from where they are written: the
// project's node_modules, sibling helpers, one step file importing another, helpers outside
// steps/. What the hooks add over plain Node:
//
// * TypeScript (.ts .mts .cts .tsx) is compiled by esbuild (transform only, no type checking),
//   once per distinct source (cached by content hash), with an inline source map so stacks
//   name the .ts lines. Type-only imports disappear in the transform.
// * Extensionless and .js-for-.ts relative imports resolve as TypeScript projects expect
//   ('./helper' -> ./helper.ts, './helper.js' -> ./helper.ts, './dir' -> ./dir/index.ts).
// * A .js file in ESM syntax under a package.json without "type" loads as ESM (plain CommonJS
//   stays CommonJS); JSON imported without an import attribute loads as a default export.
// * An import from 'motia' when no motia package is installed gets a generated stand-in that
//   exports every name the importer asks for as an inert placeholder.
// * 'motia-dep:<parent url>|<specifier>' resolves a package as seen from a step file (used to
//   reach the project's own zod).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const TS_LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx' };
const TRY_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json'];
const JS_TO_TS = { '.js': ['.ts', '.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'], '.jsx': ['.tsx'] };
const SHIM_SCHEME = 'motia-shim:';
const DEP_SCHEME = 'motia-dep:';
const CJS_HINT = /\brequire\s*\(|\bmodule\.exports\b|\bexports\.[\w$]+\s*=/;
const MOTIA_IMPORT = /\b(import|export)\s+([^;'"]*?)\s*from\s*["'](motia(?:\/[^"']*)?)["']/g;

let projectRoot = '';
let tsconfigRaw;
let esbuild = null;
let compiling = 0; // esbuild transforms in flight (stop() would strand them)
let stopPending = false;
const compiled = new Map(); // content hash -> compiled code
const sources = new Map(); // file path -> the code last given to Node (for the motia stand-in)
const packageTypes = new Map(); // directory -> "module" | "commonjs" | undefined

export async function initialize(data) {
  projectRoot = data?.root ?? '';
  // The runner says when a steps.load is done: esbuild's service process is only needed while
  // files load, and a child left running would outlive a runner that is killed.
  data?.port?.on('message', stopWhenIdle);
  data?.port?.unref();
  try {
    tsconfigRaw = fs.readFileSync(path.join(projectRoot, 'tsconfig.json'), 'utf8');
  } catch {
    tsconfigRaw = undefined;
  }
}

const inNodeModules = (file) => file.includes(`${path.sep}node_modules${path.sep}`);
const isPathLike = (spec) => spec.startsWith('./') || spec.startsWith('../') || spec === '.'
  || spec === '..' || spec.startsWith('/') || spec.startsWith('file:');

// --- resolve -------------------------------------------------------------------------------

export async function resolve(specifier, context, nextResolve) {
  if (specifier.startsWith(DEP_SCHEME)) {
    const rest = specifier.slice(DEP_SCHEME.length);
    const bar = rest.indexOf('|');
    return nextResolve(rest.slice(bar + 1), { ...context, parentURL: decodeURIComponent(rest.slice(0, bar)) });
  }
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const parent = context.parentURL;
    const fromProject = parent?.startsWith('file:') && !inNodeModules(fileURLToPath(parent));
    if (fromProject && isPathLike(specifier)
        && (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'ERR_UNSUPPORTED_DIR_IMPORT')) {
      const found = tsCandidate(new URL(specifier, parent));
      if (found !== null) return { url: found, shortCircuit: true };
    }
    if ((specifier === 'motia' || specifier.startsWith('motia/')) && error.code === 'ERR_MODULE_NOT_FOUND') {
      return { url: `${SHIM_SCHEME}${encodeURIComponent(parent ?? '')}#${specifier}`, shortCircuit: true };
    }
    throw error;
  }
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function tsCandidate(url) {
  const file = fileURLToPath(url);
  const ext = path.extname(file);
  const base = file.slice(0, file.length - ext.length);
  const tries = [...(JS_TO_TS[ext] ?? []).map((e) => base + e), ...TRY_EXTENSIONS.map((e) => file + e),
    ...TRY_EXTENSIONS.map((e) => path.join(file, `index${e}`))];
  const found = tries.find(isFile);
  return found === undefined ? null : pathToFileURL(found).href + url.search;
}

// --- load ----------------------------------------------------------------------------------

export async function load(url, context, nextLoad) {
  if (url.startsWith(SHIM_SCHEME)) return { format: 'module', source: shimSource(url), shortCircuit: true };
  if (!url.startsWith('file:')) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const ext = path.extname(file);
  if (ext in TS_LOADERS) {
    const source = await compileTs(file, ext);
    sources.set(file, source);
    return { format: tsFormat(ext, source), source, shortCircuit: true };
  }
  if (inNodeModules(file)) return nextLoad(url, context);
  if (ext === '.json' && (context.importAttributes ?? context.importAssertions)?.type !== 'json') {
    const text = fs.readFileSync(file, 'utf8');
    JSON.parse(text); // a broken file fails here, naming the parse error
    return { format: 'module', source: `export default ${text};`, shortCircuit: true };
  }
  if (ext === '.js' && packageType(path.dirname(file)) === undefined) {
    const source = fs.readFileSync(file, 'utf8');
    sources.set(file, source);
    if (!parsesAsCommonJs(source)) return { format: 'module', source, shortCircuit: true };
  }
  return nextLoad(url, context);
}

function parsesAsCommonJs(source) {
  try {
    vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname']);
    return true;
  } catch (error) {
    return !(error instanceof SyntaxError);
  }
}

function tsFormat(ext, code) {
  if (ext === '.mts') return 'module';
  if (ext === '.cts') return 'commonjs';
  // Compiled TS with module syntax is ESM; without it, CommonJS if it uses require/exports.
  return !parsesAsCommonJs(code) || !CJS_HINT.test(code) ? 'module' : 'commonjs';
}

function packageType(dir) {
  if (packageTypes.has(dir)) return packageTypes.get(dir);
  let type;
  const manifest = path.join(dir, 'package.json');
  if (isFile(manifest)) {
    try {
      type = JSON.parse(fs.readFileSync(manifest, 'utf8')).type;
    } catch {
      type = undefined;
    }
  } else {
    const parent = path.dirname(dir);
    type = parent === dir ? undefined : packageType(parent);
  }
  packageTypes.set(dir, type);
  return type;
}

async function compileTs(file, ext) {
  const source = fs.readFileSync(file, 'utf8');
  const key = crypto.createHash('sha256').update(ext).update('\0').update(file).update('\0')
    .update(source).digest('hex');
  const cached = compiled.get(key);
  if (cached !== undefined) return cached;
  esbuild ??= await import('esbuild');
  compiling += 1;
  try {
    const code = await transform(source, file, ext);
    compiled.set(key, code);
    return code;
  } finally {
    compiling -= 1;
    if (stopPending) stopWhenIdle();
  }
}

function stopWhenIdle() {
  stopPending = compiling > 0;
  if (!stopPending && esbuild !== null) esbuild.stop();
}

async function transform(source, file, ext) {
  const options = {
    loader: TS_LOADERS[ext],
    sourcefile: path.basename(file),
    sourcemap: 'inline',
    target: `node${process.versions.node.split('.')[0]}`,
    tsconfigRaw,
  };
  let result;
  try {
    result = await esbuild.transform(source, options);
  } catch (error) {
    if (tsconfigRaw === undefined || !String(error.message).includes('tsconfig')) throw syntaxError(error, file);
    result = await esbuild.transform(source, { ...options, tsconfigRaw: undefined });
  }
  return result.code;
}

/** esbuild's failure as a SyntaxError that names file, line and column. */
function syntaxError(error, file) {
  const first = error.errors?.[0];
  if (first === undefined) return error;
  const where = first.location ? `${file}:${first.location.line}:${first.location.column + 1}` : file;
  const lines = first.location ? `\n    ${first.location.lineText}` : '';
  const exc = new SyntaxError(`${first.text} (${path.basename(file)}, line ${first.location?.line ?? '?'})`);
  exc.stack = `SyntaxError: ${first.text}\n    at ${where}${lines}`;
  return exc;
}

// --- the motia stand-in --------------------------------------------------------------------

function shimSource(url) {
  const hash = url.indexOf('#');
  const parent = decodeURIComponent(url.slice(SHIM_SCHEME.length, hash));
  const wanted = url.slice(hash + 1);
  let text = '';
  try {
    const file = fileURLToPath(parent);
    text = sources.get(file) ?? fs.readFileSync(file, 'utf8');
  } catch {
    text = '';
  }
  const names = new Set();
  for (const match of text.matchAll(MOTIA_IMPORT)) {
    if (match[3] !== wanted) continue;
    const braces = /\{([^}]*)\}/.exec(match[2]);
    for (const part of braces ? braces[1].split(',') : []) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim();
      if (/^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default') names.add(name);
    }
  }
  const exports = [...names].map((name) => `export const ${name} = placeholder(${JSON.stringify(name)});`);
  return `
const note = ${JSON.stringify(`motia-node-runner: '${wanted}' is not installed in the project; `
    + `${parent.split('/').pop()} gets placeholders for ${[...names].join(', ') || 'its default import'}\n`)};
process.stderr.write(note);
function placeholder(name) {
  const target = function () { return placeholder(name + '()'); };
  return new Proxy(target, {
    get(_, key) {
      if (key === Symbol.toPrimitive || key === 'toString') return () => '<motia placeholder ' + name + '>';
      if (typeof key === 'symbol' || key === 'then') return undefined;
      return placeholder(name + '.' + key);
    },
    construct() { return placeholder('new ' + name); },
  });
}
export default placeholder(${JSON.stringify(wanted)});
${exports.join('\n')}
`;
}
