// Step configs as JSON: zod schemas become JSON Schema, functions stay in the runner.
//
// MOTIA_CONTRACT.md 2.7: `input`, `bodySchema`, each `responseSchema[status]` and a stream's
// `schema` are converted here, so the core only ever sees JSON Schema. A project may have zod 3
// or zod 4 installed (or zod 3.25 with `zod/v4`); the schema object says which: v4 schemas carry
// `_zod`, v3 ones `_def.typeName`. v4 is converted with the project's own zod
// (`toJSONSchema(schema, {target: 'draft-7'})`, reached from the step file so it is the very
// copy that built the schema), v3 with the runner's zod-to-json-schema. Plain JSON Schema passes
// through. Request bodies of an api step with a zod bodySchema are validated with zod itself,
// which keeps zod's meaning (an object schema strips unknown keys rather than rejecting them).

import { pathToFileURL } from 'node:url';
import { InvalidConfig } from './errors.mjs';

const MAX_REPORTED_ERRORS = 100; // as the core's own body validation
const NO_BODY_METHODS = new Set(['GET', 'HEAD']);

let zodToJsonSchema = null;
const projectZods = new Map(); // step file -> the v4 tools seen from it (or null)

export const isZod4 = (value) => value !== null && typeof value === 'object' && '_zod' in value;
export const isZod3 = (value) => value !== null && typeof value === 'object' && !('_zod' in value)
  && typeof value._def?.typeName === 'string' && typeof value.safeParse === 'function';
export const isZod = (value) => isZod4(value) || isZod3(value);

/** The project's zod 4 module (core or classic) with toJSONSchema, as seen from `file`. */
async function zod4Tools(file) {
  if (projectZods.has(file)) return projectZods.get(file);
  const parent = encodeURIComponent(pathToFileURL(file).href);
  let found = null;
  for (const specifier of ['zod/v4/core', 'zod/v4', 'zod']) {
    try {
      const mod = await import(`motia-dep:${parent}|${specifier}`);
      if (typeof mod.toJSONSchema === 'function') {
        found = mod;
        break;
      }
    } catch {
      // not installed under that name: try the next
    }
  }
  if (found === null) found = await import('zod/v4/core'); // the runner's own, a last resort
  projectZods.set(file, found);
  return found;
}

/** One schema as JSON Schema: zod 4, zod 3, a Standard Schema with toJSON, or as it is. */
export async function toJsonSchema(schema, file, io = 'output') {
  if (isZod4(schema)) {
    const tools = await zod4Tools(file);
    return tools.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any', io });
  }
  if (isZod3(schema)) {
    zodToJsonSchema ??= (await import('zod-to-json-schema')).zodToJsonSchema;
    return zodToJsonSchema(schema, { $refStrategy: 'none' });
  }
  if (schema !== null && typeof schema === 'object' && '~standard' in schema
      && typeof schema.toJSON === 'function') {
    return schema.toJSON();
  }
  return schema;
}

/** The config as it goes to the core (InvalidConfig when it cannot be sent as JSON). */
export async function wireConfig(config, file, rel) {
  const wire = { ...config };
  delete wire.middleware;
  if (typeof wire.canAccess === 'function') {
    delete wire.canAccess;
    wire.__motia_hasCanAccess = true;
  }
  const where = { input: 'input', bodySchema: 'input', schema: 'output' };
  try {
    for (const [field, io] of Object.entries(where)) {
      if (wire[field] !== undefined) wire[field] = await toJsonSchema(wire[field], file, io);
    }
    const responses = wire.responseSchema;
    if (responses !== null && typeof responses === 'object' && !isZod(responses)) {
      wire.responseSchema = {};
      for (const [status, schema] of Object.entries(responses)) {
        wire.responseSchema[status] = await toJsonSchema(schema, file);
      }
    }
  } catch (error) {
    throw new InvalidConfig(`${rel}: a schema in config cannot be converted to JSON Schema `
      + `(${error.name}: ${error.message}); simplify it or give a plain JSON Schema object`,
    { stack: error.stack });
  }
  try {
    return JSON.parse(JSON.stringify(wire));
  } catch (error) {
    throw new InvalidConfig(`${rel}: config is not JSON-serialisable (${error.message}); use `
      + 'objects, arrays, strings, numbers, booleans and null (functions other than middleware '
      + 'and canAccess are dropped)');
  }
}

function pointer(path) {
  return (path ?? []).map((part) => `/${String(part).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * A validator for an api step's zod bodySchema, or null when the core should validate.
 * It resolves to null for a valid body, or to the 400 response for an invalid one.
 */
export function bodyValidator(config, file) {
  const schema = config.bodySchema;
  if (config.type !== 'api' || !isZod(schema)) return null;
  const method = String(config.method ?? '').toUpperCase();
  return async (body) => {
    if (NO_BODY_METHODS.has(method)) return null;
    let result;
    if (typeof schema.safeParseAsync === 'function') result = await schema.safeParseAsync(body);
    else if (typeof schema.safeParse === 'function') result = schema.safeParse(body);
    else result = await (await zod4Tools(file)).safeParseAsync(schema, body); // zod/mini
    if (result.success) return null;
    const issues = result.error?.issues ?? [];
    return {
      status: 400,
      body: {
        error: 'Request body validation failed',
        errors: issues.slice(0, MAX_REPORTED_ERRORS).map((issue) => ({
          path: pointer(issue.path), message: issue.message, code: issue.code })),
      },
    };
  };
}
