# Tells the core it started (a state.set), sleeps input.ms, tells it it finished.
use Time::HiRes ();

sub config {
    return { type => 'event', name => 'ConformanceSlow', subscribes => ['conformance.slow'],
             emits => [] };
}

sub handler {
    my ($input, $ctx) = @_;
    $ctx->state->set('slow', $input->{tag}, 'started');
    Time::HiRes::sleep($input->{ms} / 1000);
    $ctx->state->set('slow', $input->{tag}, 'finished');
    return { slept => $input->{ms}, tag => $input->{tag} };
}
