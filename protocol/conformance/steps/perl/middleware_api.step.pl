# Middleware runs in the runner, first element outermost; each may short-circuit.
sub outer {
    my ($req, $ctx, $next) = @_;
    my $response = $next->();
    $response->{headers} = { %{ $response->{headers} // {} }, 'x-outer' => '1' };
    push @{ $response->{body}{trail} }, 'outer';
    return $response;
}

sub gate {
    my ($req, $ctx, $next) = @_;
    return { status => 403, body => { trail => ['gate'] } } if $req->{headers}{'x-block'};
    return $next->();
}

sub config {
    return { type => 'api', name => 'ConformanceMiddleware', path => '/conformance/mw',
             method => 'GET', emits => [], middleware => [\&outer, \&gate] };
}

sub handler { return { status => 200, body => { trail => ['handler'] } } }
