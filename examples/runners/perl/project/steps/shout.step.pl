# A Perl step in the middle of a Python flow: it reads what Python stored, writes for Python.
sub config {
    return { type => 'event', name => 'Shout', subscribes => ['greeting.requested'],
             emits => ['greeting.shouted'], flows => ['greetings'] };
}

sub handler {
    my ($input, $ctx) = @_;
    my $greeting = $ctx->state->get('greetings', $input->{id});
    my $text = uc "hello, $greeting->{name}!";
    $ctx->state->set('shouted', $input->{id}, $text);
    $ctx->logger->info('shouted in Perl', { id => $input->{id}, perl => "$^V" });
    $ctx->emit({ topic => 'greeting.shouted', data => { id => $input->{id} } });
    return undef;
}
