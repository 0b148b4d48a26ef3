# A handler without a config: loading it is an InvalidConfig error.
sub handler { return { unreachable => \1 } }
