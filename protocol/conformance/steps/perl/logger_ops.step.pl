sub config {
    return { type => 'event', name => 'ConformanceLogger', subscribes => ['conformance.log'],
             emits => [] };
}

sub handler {
    my ($input, $ctx) = @_;
    $ctx->logger->info('conformance info', { orderId => 7 });
    $ctx->logger->warn('conformance warn', { flag => \1 });
    $ctx->logger->error('conformance error', { code => 'E1' });
    $ctx->logger->debug('conformance debug');
    return { logged => 4 };
}
