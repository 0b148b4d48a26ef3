# User output at load time and in the handler must never reach the protocol channel.
print "conformance: printed at load time\n";

sub config {
    return { type => 'event', name => 'ConformancePrint', subscribes => ['conformance.print'],
             emits => [] };
}

sub handler {
    print "conformance: printed by the handler\n";
    syswrite(STDOUT, "conformance: syswrite to STDOUT\n");
    system('echo conformance: a child process writing to fd 1');
    return { printed => \1 };
}
