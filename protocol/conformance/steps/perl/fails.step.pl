sub config {
    return { type => 'event', name => 'ConformanceFails', subscribes => ['conformance.fail'],
             emits => [] };
}

sub handler {
    my ($input) = @_;
    die ConformanceError->new("bad value $input->{v}");
}

package ConformanceError;

sub new { my ($class, $message) = @_; return bless { message => $message }, $class }
sub message { return $_[0]{message} }
