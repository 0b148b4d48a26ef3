// A stream file: a config, no handler.
export const config = { name: 'conformance', schema: { type: 'object' }, baseConfig: { storageType: 'default' } }
