# A stream file: a config, no handler.
sub config {
    return { name => 'conformance', schema => { type => 'object' },
             baseConfig => { storageType => 'default' } };
}
