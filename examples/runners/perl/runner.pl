#!/usr/bin/env perl
# motia-perl-runner: Motia steps written in Perl (*.step.pl, *_step.pl, *.stream.pl,
# *_stream.pl), served to motia-core over runner protocol v1 (protocol/PROTOCOL.md).
#
# A plugin outside motia_core, on Perl 5's core modules alone: a project registers it in its
# motia.toml ([runner.perl], see README.md). The shape is the one every runner has:
#   * stdio: the protocol keeps a private copy of fd 1; fd 1 itself becomes stderr, fd 0
#     /dev/null, so nothing a step prints (or a child it runs) can corrupt the channel;
#   * the main thread reads stdin, answers initialize / steps.load / shutdown itself, and
#     starts one thread per step.invoke;
#   * a handler's ctx calls are requests to the core; its thread waits for the answer, which
#     the main thread files under the request id;
#   * cancellation and timeoutMs are answered by the main thread at once; the handler's thread
#     is abandoned (its next ctx call dies) and its late result is dropped.
use strict;
use warnings;
use threads ('exit' => 'threads_only');
use threads::shared;
use Carp ();
use IO::Select;
use JSON::PP ();
use POSIX ();
use Scalar::Util qw(blessed looks_like_number reftype);
use Time::HiRes ();

# A step that calls exit() must fail its invocation, not end the runner (nor its thread
# silently): compiled before any step file, this applies to all of them.
BEGIN { *CORE::GLOBAL::exit = sub { die MotiaPerl::Exit->new($_[0] // 0) } }

our $VERSION = '0.1.0';
my $PROTOCOL = 1;
my @PATTERNS = ('.step.pl', '_step.pl', '.stream.pl', '_stream.pl');

# --- stdio ----------------------------------------------------------------------------------
open(my $PROTO, '>&', \*STDOUT) or die "motia-perl-runner: cannot dup stdout: $!\n";
open(my $IN, '<&', \*STDIN) or die "motia-perl-runner: cannot dup stdin: $!\n";
open(STDOUT, '>&', \*STDERR) or die "motia-perl-runner: cannot point stdout at stderr: $!\n";
open(STDIN, '<', '/dev/null') or die "motia-perl-runner: cannot open /dev/null: $!\n";
binmode($_) for ($PROTO, $IN);
STDOUT->autoflush(1);
STDERR->autoflush(1);
pipe(my $WAKE_R, my $WAKE_W) or die "motia-perl-runner: pipe: $!\n";  # threads wake the main loop
$WAKE_W->autoflush(1);

my $JSON = JSON::PP->new->utf8->allow_nonref;

# --- state shared between the main thread and the invocation threads --------------------------
my $write_lock : shared;
my %replies : shared;     # our callback id -> the core's answer (a JSON line)
my %answered : shared;    # request key -> 1 once its step.invoke was answered (by anyone)
my %inflight : shared;    # request key -> deadline (epoch seconds; 0 = none)
my $next_call : shared = 0;
my $max_bytes : shared = 16 * 1024 * 1024;

# Main thread only (each invocation thread gets a copy as it was when the thread started).
my %steps;                # file -> {handler, middleware, can_access}
my @streams;
my $loads = 0;
my $shutting_down = 0;
my @shutdown_ids;

sub key_of { $JSON->encode($_[0]) }    # 1 and "1" are different request ids

# One line per message, one syswrite loop under the lock: messages never interleave. Returns
# false (sending nothing) when the line would exceed maxMessageBytes.
sub send_message {
    my ($message) = @_;
    my $line = $JSON->encode($message);
    return 0 if length($line) > $max_bytes;
    $line .= "\n";
    lock($write_lock);
    my $offset = 0;
    while ($offset < length $line) {
        my $n = syswrite($PROTO, $line, length($line) - $offset, $offset);
        POSIX::_exit(1) unless defined $n;    # the core is gone
        $offset += $n;
    }
    return 1;
}

sub respond {
    my ($id, $result) = @_;
    my $ok = eval { send_message({ jsonrpc => '2.0', id => $id, result => $result }) };
    return respond_error($id, -32001, "the result cannot be sent as JSON: " . first_line($@))
        if !defined $ok;
    respond_error($id, -32007, "the result is larger than maxMessageBytes ($max_bytes)")
        unless $ok;
}

sub respond_error {
    my ($id, $code, $message, $data) = @_;
    my $error = { code => $code, message => $message };
    $error->{data} = $data if defined $data;
    send_message({ jsonrpc => '2.0', id => $id, error => $error })
        or send_message({ jsonrpc => '2.0', id => $id,
                          error => { code => $code, message => substr($message, 0, 4096) } });
}

sub claim {    # the first to claim an invocation answers it
    my ($key) = @_;
    lock(%answered);
    return 0 if $answered{$key};
    $answered{$key} = 1;
    return 1;
}

sub first_line { my ($text) = @_; $text //= ''; $text =~ s/\n.*//s; $text }

sub wake { syswrite($WAKE_W, 'x') }

# --- the main loop ------------------------------------------------------------------------------

sub main_loop {
    my $select = IO::Select->new($IN, $WAKE_R);
    my $buffer = '';
    while (1) {
        my @ready = $select->can_read(next_timeout());
        expire_deadlines();
        for my $fh (@ready) {
            if ($fh == $WAKE_R) { sysread($WAKE_R, my $junk, 4096); next }
            my $n = sysread($IN, $buffer, 1 << 16, length $buffer);
            POSIX::_exit(0) unless $n;    # end of input means exit
            while ((my $end = index($buffer, "\n")) >= 0) {
                my $line = substr($buffer, 0, $end + 1, '');
                chop $line;
                handle_line($line);
            }
        }
        finish_shutdown();
    }
}

sub next_timeout {
    lock(%inflight);
    my @deadlines = grep { $_ > 0 } values %inflight;
    return undef unless @deadlines;
    my ($soonest) = sort { $a <=> $b } @deadlines;
    my $left = $soonest - Time::HiRes::time();
    return $left > 0 ? $left : 0;
}

sub expire_deadlines {
    my $now = Time::HiRes::time();
    my @late;
    {
        lock(%inflight);
        @late = grep { $inflight{$_} > 0 && $inflight{$_} <= $now } keys %inflight;
        delete @inflight{@late};
    }
    for my $key (@late) {
        respond_error($JSON->decode($key), -32004, 'the handler ran past its timeoutMs')
            if claim($key);
    }
}

sub handle_line {
    my ($line) = @_;
    my $message = eval { $JSON->decode($line) };
    return respond_error(undef, -32700, 'not a JSON line: ' . first_line($@)) if $@;
    if (ref $message ne 'HASH' || ($message->{jsonrpc} // '') ne '2.0') {
        return respond_error(undef, -32600, 'expected a JSON-RPC 2.0 object with "jsonrpc": "2.0"');
    }
    my ($id, $method) = ($message->{id}, $message->{method});
    if (length($line) > $max_bytes) {
        POSIX::_exit(1) unless defined $id;    # an oversized line we cannot answer
        return respond_error($id, -32007, "a message of " . length($line)
            . " bytes is over maxMessageBytes ($max_bytes)");
    }
    if (!defined $method) {    # the core's answer to one of our callbacks
        lock(%replies);
        $replies{$id} = $line if defined $id;
        cond_broadcast(%replies);
        return;
    }
    return handle_notification($method, $message->{params}) unless exists $message->{id};
    my $result = eval { handle_request($id, $method, $message->{params}) };
    if (my $error = $@) {
        return respond_error($id, $error->{code}, $error->{message}, $error->{data})
            if ref $error eq 'HASH';
        return respond_error($id, -32603, 'motia-perl-runner bug: ' . first_line($error),
                             { stack => "$error" });
    }
    respond($id, ${$result}) if ref $result eq 'REF' || ref $result eq 'SCALAR';
}

sub handle_notification {
    my ($method, $params) = @_;
    if ($method eq 'exit') {
        POSIX::_exit(0);
    }
    elsif ($method eq '$/cancelRequest' && ref $params eq 'HASH' && defined $params->{id}) {
        my $key = key_of($params->{id});
        my $running;
        { lock(%inflight); $running = delete $inflight{$key}; }
        respond_error($params->{id}, -32800, 'cancelled by the core ($/cancelRequest)')
            if defined $running && claim($key);
    }
}

sub bad_params { die { code => -32602, message => $_[0] } }

# Returns \$result to answer now, or undef when the answer comes later (invoke, shutdown).
sub handle_request {
    my ($id, $method, $params) = @_;
    return \initialize($params) if $method eq 'initialize';
    return \load_files($params) if $method eq 'steps.load';
    return invoke($id, $params) if $method eq 'step.invoke';
    return \can_access($params) if $method eq 'streams.canAccess';
    if ($method eq 'shutdown') {
        $shutting_down = 1;
        push @shutdown_ids, $id;
        return undef;
    }
    die { code => -32601, message => "'$method' is not a method of motia-perl-runner "
                                     . "(protocol v$PROTOCOL)" };
}

sub finish_shutdown {
    return unless @shutdown_ids;
    { lock(%inflight); return if %inflight; }
    respond(shift @shutdown_ids, undef) while @shutdown_ids;
}

# --- lifecycle ------------------------------------------------------------------------------------

sub initialize {
    my ($p) = @_;
    bad_params('initialize: params must be an object') unless ref $p eq 'HASH';
    my $version = $p->{protocolVersion};
    bad_params('initialize: params.protocolVersion must be an integer')
        unless defined $version && !ref $version && $version =~ /^\d+$/;
    die { code => -32006, data => { supported => [$PROTOCOL] },
          message => "motia-perl-runner speaks protocol version $PROTOCOL, the core asked for "
                     . "$version; upgrade the older of motia-core and the runner" }
        if $version != $PROTOCOL;
    my $limit = $p->{maxMessageBytes} // $max_bytes;
    bad_params('initialize: params.maxMessageBytes must be a positive integer')
        unless looks_like_number($limit) && $limit > 0;
    $max_bytes = int $limit;
    @streams = @{ $p->{streams} // [] } if ref($p->{streams} // []) eq 'ARRAY';
    # This runner never validates bodies itself; the core asks for a check (validateBody).
    bad_params('initialize: params.validateBodies must be true or false')
        if exists $p->{validateBodies} && !JSON::PP::is_bool($p->{validateBodies});
    return { protocolVersion => $PROTOCOL,
             runner => { name => 'motia-perl-runner', version => $VERSION, language => 'perl' },
             capabilities => { cancellation => JSON::PP::true, middleware => JSON::PP::true,
                               reload => JSON::PP::true, filePatterns => [@PATTERNS] } };
}

sub load_files {
    my ($p) = @_;
    my $files = ref $p eq 'HASH' ? $p->{files} : undef;
    bad_params('steps.load: params.files must be an array of absolute paths')
        unless ref $files eq 'ARRAY' && !grep { !defined $_ || ref $_ } @$files;
    @streams = @{ $p->{streams} } if ref $p->{streams} eq 'ARRAY';
    return { files => [ map { load_file($_) } @$files ] };
}

sub load_file {
    my ($file) = @_;
    my ($step, $wire, $error) = compile_step($file);
    if (defined $error) {
        delete $steps{$file};
        return { file => $file, error => { code => -32003, message => first_line($error),
                                           data => { stack => $error } } };
    }
    $steps{$file} = $step;    # the swap: invocations in flight keep their copy
    my %entry = (file => $file, config => $wire,
                 hasHandler => $step->{handler} ? JSON::PP::true : JSON::PP::false);
    $entry{hasMiddleware} = JSON::PP::true if @{ $step->{middleware} // [] };
    return \%entry;
}

# Each file is compiled into a package of its own, so every step can define `config`,
# `handler` and helpers of the same names. Returns (step, wire config) or (undef, undef, error).
sub compile_step {
    my ($file) = @_;
    open(my $fh, '<:raw', $file) or return (undef, undef, "$file: cannot read: $!");
    my $source = do { local $/; <$fh> };
    my $package = 'MotiaStep::S' . ++$loads;
    {
        local $@;
        eval "package $package;\nuse strict;\nuse warnings;\n#line 1 \"$file\"\n$source\n";
        return (undef, undef, "$file: $@") if $@;
    }
    my $config_sub = $package->can('config')
        or return (undef, undef, "$file: defines no `sub config { ... }`; every step and "
                                 . "stream file needs one returning a hash reference");
    my $config = eval { $config_sub->() };
    return (undef, undef, "$file: config() died: $@") if $@;
    return (undef, undef, "$file: config() must return a hash reference, got "
                          . (ref $config || 'a plain value')) unless ref $config eq 'HASH';
    my %wire = %$config;
    my $step = { handler => $package->can('handler') };
    if (exists $wire{middleware}) {
        my $chain = delete $wire{middleware};
        return (undef, undef, "$file: config middleware must be an array of code references")
            unless ref $chain eq 'ARRAY' && !grep { ref $_ ne 'CODE' } @$chain;
        $step->{middleware} = $chain;
    }
    if (ref $wire{canAccess} eq 'CODE') {
        $step->{can_access} = delete $wire{canAccess};
        $wire{__motia_hasCanAccess} = JSON::PP::true;
    }
    eval { $JSON->encode(\%wire) };
    return (undef, undef, "$file: config is not JSON-serialisable: " . first_line($@)) if $@;
    return ($step, \%wire);
}

sub can_access {
    my ($p) = @_;
    bad_params('streams.canAccess: params must be an object with file and subscription')
        unless ref $p eq 'HASH' && defined $p->{file} && ref $p->{subscription} eq 'HASH';
    my $step = $steps{ $p->{file} }
        or die { code => -32002, message => "no stream file loaded from '$p->{file}'" };
    return JSON::PP::true unless $step->{can_access};
    my $allowed = eval { $step->{can_access}->($p->{subscription}, $p->{authContext}) };
    die { code => -32001, message => first_line($@), data => error_data($@, '') } if $@;
    return $allowed ? JSON::PP::true : JSON::PP::false;
}

# --- invocations ------------------------------------------------------------------------------------

sub invoke {
    my ($id, $p) = @_;
    die { code => -32010, message => 'motia-perl-runner is shutting down and takes no new '
                                      . 'invocations' } if $shutting_down;
    bad_params('step.invoke: params must be an object') unless ref $p eq 'HASH';
    for my $field (qw(invocationId file)) {
        bad_params("step.invoke: params.$field must be a string")
            unless defined $p->{$field} && !ref $p->{$field};
    }
    bad_params('step.invoke: params.trigger must be api, event or cron')
        unless ($p->{trigger} // '') =~ /^(?:api|event|cron)$/;
    bad_params('step.invoke: params.trace must be an object with string traceId and spanId')
        unless ref $p->{trace} eq 'HASH' && defined $p->{trace}{traceId}
               && defined $p->{trace}{spanId};
    bad_params('step.invoke: params.validateBody must be true or false')
        if exists $p->{validateBody} && !JSON::PP::is_bool($p->{validateBody});
    my $timeout = $p->{timeoutMs};
    bad_params('step.invoke: params.timeoutMs must be a non-negative number')
        if defined $timeout && !(looks_like_number($timeout) && $timeout >= 0);
    my $step = $steps{ $p->{file} }
        or die { code => -32002, message => "no step loaded from '$p->{file}': send steps.load "
                                            . "for it first, or fix the error its load reported" };
    die { code => -32002, message => "'$p->{file}' is loaded but defines no `sub handler` "
                                     . "(noop steps and streams cannot be invoked)" }
        unless $step->{handler};
    my $key = key_of($id);
    { lock(%inflight); $inflight{$key} = defined $timeout ? Time::HiRes::time() + $timeout / 1000 : 0; }
    threads->create({ context => 'void' }, \&run_invocation, $id, $key, $p)->detach;
    return undef;
}

sub run_invocation {    # in the invocation's own thread
    my ($id, $key, $p) = @_;
    my $step = $steps{ $p->{file} };
    my $ctx = MotiaPerl::Context->new($key, $p);
    my ($output, $stack);
    my $ok = eval {
        local $SIG{__DIE__} = sub { $stack = Carp::longmess('') };
        $output = call_handler($step, $p->{trigger}, $p->{input}, $ctx, $p->{validateBody});
        1;
    };
    my $error = $ok ? undef : $@;
    if (claim($key)) {
        if (defined $error) {
            my $data = error_data($error, $stack);
            respond_error($id, -32001, first_line("$data->{name}: $data->{message}"), $data);
        }
        else {
            respond($id, { output => $output });
        }
    }
    # Only now: a shutdown waiting for this invocation must be answered after it.
    { lock(%inflight); delete $inflight{$key}; }
    wake();
}

# With validate_body the core checks the body as the middleware left it, just before the
# handler; its 400 then stands for the handler's response (PROTOCOL.md 3.3).
sub call_handler {
    my ($step, $trigger, $input, $ctx, $validate_body) = @_;
    return $step->{handler}->($ctx) if $trigger eq 'cron';
    my @chain = $trigger eq 'api' ? @{ $step->{middleware} // [] } : ();
    my $at;
    $at = sub {
        my ($index) = @_;
        if ($index == @chain) {
            if ($trigger eq 'api' && $validate_body) {
                my $body = ref $input eq 'HASH' ? $input->{body} : undef;
                my $refused = $ctx->call('body.validate', { body => $body });
                return $refused if defined $refused;
            }
            return $step->{handler}->($input, $ctx);
        }
        return $chain[$index]->($input, $ctx, sub { $at->($index + 1) });
    };
    return $at->(0);
}

sub error_name {
    my ($error) = @_;
    return 'Error' unless blessed $error;
    (my $name = ref $error) =~ s/^MotiaStep::S\d+:://;
    return $name;
}

sub error_text {
    my ($error) = @_;
    return $error->message if blessed $error && $error->can('message');
    return $error->{message} // error_name($error)
        if blessed $error && reftype($error) eq 'HASH';
    (my $text = "$error") =~ s/\s+\z//;
    $text =~ s/ at \S+ line \d+\.\z//;
    return $text;
}

sub error_data {
    my ($error, $stack) = @_;
    my ($name, $text) = (error_name($error), error_text($error));
    my $trace = join "\n", grep { !/runner\.pl line/ } split /\n/, ($stack // '');
    return { name => $name, message => $text, stack => "$name: $text\n$trace" };
}

# Called from a handler's thread: one request to the core, waiting for its answer.
sub call_core {
    my ($key, $method, $params) = @_;
    { lock(%answered); die MotiaPerl::Cancelled->new if $answered{$key}; }
    my $id;
    { lock($next_call); $id = 'perl-' . ++$next_call; }
    send_message({ jsonrpc => '2.0', id => $id, method => $method, params => $params })
        or die MotiaPerl::RpcError->new({ code => -32007, message => "$method is larger than "
                                          . "maxMessageBytes ($max_bytes)" });
    my $line;
    {
        lock(%replies);
        cond_wait(%replies) until defined($line = delete $replies{$id});
    }
    my $answer = $JSON->decode($line);
    die MotiaPerl::RpcError->new($answer->{error}) if $answer->{error};
    return $answer->{result};
}

sub send_log {
    my ($invocation, $level, $msg, $fields) = @_;
    $fields = {} unless defined $fields;
    $fields = { %$fields } if blessed $fields && reftype($fields) eq 'HASH';
    $fields = { data => $fields } unless ref $fields eq 'HASH';
    my $log = { jsonrpc => '2.0', method => 'log',
                params => { invocationId => $invocation, level => $level, msg => "$msg",
                            fields => $fields } };
    eval { send_message($log) } or do {
        $log->{params}{fields} = {};
        send_message($log);
    };
}

# --- what handlers see -----------------------------------------------------------------------------

package MotiaPerl::Context;

sub new {
    my ($class, $key, $p) = @_;
    return bless { key => $key, id => $p->{invocationId}, trace_id => $p->{trace}{traceId},
                   traceparent => $p->{trace}{traceparent}, tracestate => $p->{trace}{tracestate},
                   flows => $p->{flows} // [] }, $class;
}
sub trace_id { $_[0]{trace_id} }
# The W3C context of the step's span, for outgoing calls (PROTOCOL.md 3.9); undef when absent.
sub traceparent { $_[0]{traceparent} }
sub tracestate { $_[0]{tracestate} }
sub traceId { $_[0]{trace_id} }
sub flows { $_[0]{flows} }
sub state { bless { ctx => $_[0] }, 'MotiaPerl::State' }
sub logger { bless { ctx => $_[0] }, 'MotiaPerl::Logger' }

sub streams {
    my ($self, $name) = @_;
    die "no stream named '$name'; the project defines: @streams\n"
        unless grep { $_ eq $name } @streams;
    return bless { ctx => $self, name => $name }, 'MotiaPerl::Stream';
}

sub emit {
    my ($self, $event) = @_;
    die "ctx->emit takes a hash reference { topic => ..., data => ... }\n"
        unless ref $event eq 'HASH';
    my %params = (topic => $event->{topic}, data => $event->{data});
    $params{messageGroupId} = $event->{messageGroupId} if defined $event->{messageGroupId};
    $self->call('emit', \%params);
    return undef;
}

sub call {
    my ($self, $method, $params) = @_;
    return main::call_core($self->{key}, $method, { %$params, invocationId => $self->{id} });
}

package MotiaPerl::State;

sub get { $_[0]{ctx}->call('state.get', { group => "$_[1]", key => "$_[2]" }) }
sub set { $_[0]{ctx}->call('state.set', { group => "$_[1]", key => "$_[2]", value => $_[3] }) }
sub delete { $_[0]{ctx}->call('state.delete', { group => "$_[1]", key => "$_[2]" }) }
sub get_group { $_[0]{ctx}->call('state.getGroup', { group => "$_[1]" }) }
sub clear { $_[0]{ctx}->call('state.clear', { group => "$_[1]" }); return undef }

package MotiaPerl::Stream;

sub _call {
    my ($self, $method, %params) = @_;
    return $self->{ctx}->call("streams.$method", { stream => $self->{name}, %params });
}
sub get { $_[0]->_call('get', group => "$_[1]", id => "$_[2]") }
sub set { $_[0]->_call('set', group => "$_[1]", id => "$_[2]", data => $_[3]) }
sub delete { $_[0]->_call('delete', group => "$_[1]", id => "$_[2]") }
sub get_group { $_[0]->_call('getGroup', group => "$_[1]") }
sub send { $_[0]->_call('send', channel => $_[1], event => $_[2]); return undef }

package MotiaPerl::Logger;

for my $level (qw(info warn error debug)) {
    no strict 'refs';
    *{"MotiaPerl::Logger::$level"} = sub { main::send_log($_[0]{ctx}{id}, $level, $_[1], $_[2]) };
}

package MotiaPerl::RpcError;    # an error answer from the core: code, message, data

sub new { my ($class, $error) = @_; bless { %$error }, $class }
sub code { $_[0]{code} }
sub message { $_[0]{message} }
sub data { $_[0]{data} }

package MotiaPerl::Cancelled;    # the invocation was cancelled or timed out

sub new { bless { message => 'the invocation was cancelled' }, $_[0] }
sub message { $_[0]{message} }

package MotiaPerl::Exit;

sub new { bless { message => "exit($_[1]) called in a handler" }, $_[0] }
sub message { $_[0]{message} }

package main;

main_loop();
