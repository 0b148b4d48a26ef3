// A request body a person can send as it is: an example value built from a JSON Schema (the
// api step's bodySchema, from zod or plain JSON Schema), valid where that is easy to be.
import type { JsonSchema } from './api'

const MAX_DEPTH = 6

const STRING_FORMATS: Record<string, string> = {
  email: 'user@example.com',
  uri: 'https://example.com',
  url: 'https://example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  time: '12:00:00',
  ipv4: '127.0.0.1',
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema
  let target: unknown = root
  for (const part of ref.slice(2).split('/')) {
    target = (target as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return (target as JsonSchema | undefined) ?? {}
}

function exampleString(schema: JsonSchema): string {
  const format = typeof schema.format === 'string' ? STRING_FORMATS[schema.format] : undefined
  if (format) return format
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity
  let text = 'string'
  while (text.length < min) text += ' string'
  return text.slice(0, Math.max(min, Math.min(max, text.length)))
}

function exampleNumber(schema: JsonSchema, integer: boolean): number {
  const min = typeof schema.minimum === 'number' ? schema.minimum
    : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 0
  return integer ? Math.ceil(min) : min
}

export function example(schema: JsonSchema | null | undefined, root?: JsonSchema, depth = 0): unknown {
  if (!schema || depth > MAX_DEPTH) return null
  const top = root ?? schema
  const s = resolve(schema, top)
  if ('const' in s) return s.const
  if ('default' in s) return s.default
  if (Array.isArray(s.examples) && s.examples.length) return s.examples[0]
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0]
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = s[key]
    if (Array.isArray(options) && options.length) {
      const chosen = options.find((o: JsonSchema) => o.type !== 'null') ?? options[0]
      return example(chosen as JsonSchema, top, depth + 1)
    }
  }
  if (Array.isArray(s.allOf)) {
    return Object.assign({}, ...s.allOf.map((part: JsonSchema) => example(part, top, depth + 1)))
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type
  switch (type) {
    case 'object':
      return exampleObject(s, top, depth)
    case 'array': {
      const items = s.items as JsonSchema | undefined
      const count = typeof s.minItems === 'number' ? Math.max(1, s.minItems) : 1
      return items ? Array.from({ length: count }, () => example(items, top, depth + 1)) : []
    }
    case 'string':
      return exampleString(s)
    case 'integer':
      return exampleNumber(s, true)
    case 'number':
      return exampleNumber(s, false)
    case 'boolean':
      return false
    case 'null':
      return null
    default:
      return s.properties ? exampleObject(s, top, depth) : null
  }
}

function exampleObject(s: JsonSchema, root: JsonSchema, depth: number): Record<string, unknown> {
  const properties = (s.properties ?? {}) as Record<string, JsonSchema>
  const out: Record<string, unknown> = {}
  for (const [name, property] of Object.entries(properties)) out[name] = example(property, root, depth + 1)
  return out
}
