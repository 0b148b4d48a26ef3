# A stream file: a config, no handler.
def config
  { name: 'conformance', schema: { type: 'object' }, baseConfig: { storageType: 'default' } }
end
