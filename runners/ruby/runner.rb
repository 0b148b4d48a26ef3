# frozen_string_literal: true

# motia-ruby-runner: a long-lived process that loads Motia's Ruby step files (`*.step.rb`,
# `*_step.rb`, `*.stream.rb`, `*_stream.rb`) and runs their handlers when the core asks, speaking
# protocol v1 (protocol/PROTOCOL.md) on stdin/stdout. Standard library only.
#
# stdio is claimed before anything else is loaded or run, so nothing can write to the protocol
# channel by accident. The process ends with Process.exit!: a handler stuck in a thread must not
# keep the runner alive after the core said `exit`.

if RUBY_VERSION.split('.').first.to_i < 3
  abort "motia-ruby-runner needs Ruby 3.0 or newer, this is #{RUBY_VERSION} (#{RbConfig.ruby}); " \
        'install Ruby 3 (Debian: apt-get install ruby)'
end

require_relative 'lib/motia_runner/channel'

proto_in, proto_out = MotiaRunner::Channel.claim_stdio
# LANG=C must not make File.read of UTF-8 text fail (quietly: -w warns about this assignment).
verbose, $VERBOSE = $VERBOSE, nil
Encoding.default_external = Encoding::UTF_8
$VERBOSE = verbose

code = 70 # EX_SOFTWARE, if the runner itself breaks
begin
  require_relative 'lib/motia_runner/server'

  root = ENV['MOTIA_PROJECT_ROOT'] || Dir.pwd
  server = MotiaRunner::Server.new(proto_in, proto_out, root)
  code = server.run
rescue SignalException => e # SIGTERM from the core's shutdown ladder
  code = 128 + e.signo
rescue Exception => e # rubocop:disable Lint/RescueException
  warn "motia-ruby-runner: #{e.class}: #{e.message}\n\t#{(e.backtrace || []).join("\n\t")}"
ensure
  server ? server.finish(code) : Process.exit!(code)
end
