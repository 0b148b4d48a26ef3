# The api convention: handler($req, $ctx) -> { status, body, headers }.
sub config {
    return { type => 'api', name => 'ConformanceApi', path => '/conformance/:id',
             method => 'POST', emits => [], flows => ['conformance'],
             responseSchema => { 200 => { type => 'object' } } };
}

sub handler {
    my ($req, $ctx) = @_;
    return { status => 201,
             body => { id => $req->{pathParams}{id}, body => $req->{body},
                       query => $req->{queryParams}, traceId => $ctx->trace_id,
                       flows => $ctx->flows },
             headers => { 'x-conformance' => 'yes' } };
}
