# frozen_string_literal: true

require_relative 'access'
require_relative 'endpoint'
require_relative 'errors'
require_relative 'execution'
require_relative 'invocation'
require_relative 'loader'
require_relative 'tasks'
require_relative 'version'

module MotiaRunner
  # The runner's side of protocol v1: lifecycle, the step table, and routing of core messages.
  #
  # Core messages arrive on the event loop (the main thread); initialize and steps.load are
  # answered there, every step.invoke and streams.canAccess runs in a fiber of its own (a thread
  # with MOTIA_RUBY_CONCURRENCY=threads), and shutdown is answered once none is in flight.
  class Server
    PROTOCOL_VERSION = 1
    TRIGGERS = %w[api event cron].freeze
    FILE_PATTERNS = ['.step.rb', '_step.rb', '.stream.rb', '_stream.rb'].freeze

    def initialize(in_io, out_io, project_root)
      @loop = EventLoop.new
      @tasks = Tasks.build(@loop)
      @endpoint = Endpoint.new(in_io, out_io, self, @loop)
      @loader = Loader.new(project_root)
      @steps = {} # file -> Step; replaced whole on (re)load, so invocations keep their Step
      @inflight = {} # request id -> Invocation
      @mutex = Mutex.new
      @streams = [].freeze
      @shutting_down = false
      @shutdown_ids = [] # shutdown requests, answered once nothing is in flight
      @deadlines = @tasks.deadlines
      @exit_code = nil
    end

    # Serves until `exit`, end of input or a broken channel; returns the exit status.
    def run
      @endpoint.run
      @exit_code || 0
    end

    # Exits the process now: no at_exit hooks, no waiting for handler threads (as os._exit in
    # the Python runner), but never in the middle of a protocol line.
    def finish(code)
      [$stderr, STDOUT].each do |io|
        io.flush
      rescue IOError, SystemCallError
        nil
      end
      @endpoint.writer.quiesce
      Process.exit!(code)
    end

    def on_closed(code)
      return finish(code) unless Thread.current == Thread.main

      @exit_code ||= code
      @endpoint.stop
    end

    # --- routing ------------------------------------------------------------------------------

    def on_request(id, method, params)
      case method
      when 'step.invoke' then invoke(id, params)
      when 'initialize' then @endpoint.respond(id, initialize_runner(params))
      when 'steps.load' then @endpoint.respond(id, load(params))
      when 'shutdown' then shutdown(id)
      when 'streams.canAccess' then can_access(id, params)
      else
        raise MethodNotFound, "#{method.inspect} is not a method of motia-ruby-runner " \
                              "(protocol v#{PROTOCOL_VERSION})"
      end
    rescue RpcError => e
      @endpoint.send_error(id, e)
    rescue StandardError, ScriptError => e # a bug of ours: say so, with the stack
      @endpoint.send_error(id, Failure.internal_error(e))
    end

    def on_notification(method, params)
      case method
      when '$/cancelRequest'
        target = params.is_a?(Hash) ? params['id'] : nil
        inv = @mutex.synchronize { @inflight[target] }
        inv&.stop(:cancel)
      when 'exit' then on_closed(0)
      end
      # Other notifications are not ours to answer (JSON-RPC: no response to notifications).
    end

    private

    def bad(method, field, expected, got)
      InvalidParams.new("#{method}: params.#{field} must be #{expected}, got #{got.class}")
    end

    def object(method, params)
      return params if params.is_a?(Hash)

      raise InvalidParams, "#{method}: params must be an object, got #{params.class}"
    end

    def strings?(value)
      value.is_a?(Array) && value.all? { |s| s.is_a?(String) }
    end

    # --- lifecycle ----------------------------------------------------------------------------

    def initialize_runner(params)
      p = object('initialize', params)
      version = p['protocolVersion']
      raise bad('initialize', 'protocolVersion', 'an integer', version) unless version.is_a?(Integer)
      unless version == PROTOCOL_VERSION
        raise UnsupportedProtocolVersion.new(
          "motia-ruby-runner speaks protocol version #{PROTOCOL_VERSION}, the core asked for #{version}; " \
          'upgrade the older of motia-core and the runner', { 'supported' => [PROTOCOL_VERSION] }
        )
      end
      root = p['projectRoot']
      raise bad('initialize', 'projectRoot', 'a string (absolute path)', root) unless root.is_a?(String)

      limit = p.fetch('maxMessageBytes', @endpoint.max_bytes)
      unless limit.is_a?(Integer) && limit.positive?
        raise bad('initialize', 'maxMessageBytes', 'a positive integer', limit)
      end

      streams = p.fetch('streams', [])
      raise bad('initialize', 'streams', 'an array of strings', streams) unless strings?(streams)

      # This runner never validates bodies itself: the core asks it to have one checked
      # (step.invoke's validateBody) only when the project validates them. Checked all the same.
      validate = p.fetch('validateBodies', true)
      raise bad('initialize', 'validateBodies', 'true or false', validate) unless [true, false].include?(validate)

      @loader.root = root
      @endpoint.max_bytes = limit
      @streams = streams.freeze
      {
        'protocolVersion' => PROTOCOL_VERSION,
        'runner' => { 'name' => 'motia-ruby-runner', 'version' => VERSION, 'language' => 'ruby' },
        'capabilities' => { 'cancellation' => true, 'middleware' => true, 'reload' => true,
                            'filePatterns' => FILE_PATTERNS }
      }
    end

    def load(params)
      files = object('steps.load', params)['files']
      raise bad('steps.load', 'files', 'an array of absolute paths', files) unless strings?(files)

      streams = params['streams']
      unless streams.nil?
        raise bad('steps.load', 'streams', 'an array of stream names', streams) unless strings?(streams)

        @streams = streams.freeze
      end
      { 'files' => files.map { |file| load_one(file) } }
    end

    def load_one(file)
      step = @loader.load(file)
      @steps = @steps.merge(file => step) # the swap: invocations in flight keep the old Step
      entry = { 'file' => file, 'config' => step.wire_config, 'hasHandler' => !step.handler.nil? }
      entry['hasMiddleware'] = true unless step.middleware.empty?
      entry
    rescue InvalidConfig => e
      forget(file)
      { 'file' => file, 'error' => e.to_error }
    rescue StandardError, ScriptError => e # a loader bug must not cost the other files
      forget(file)
      error = InvalidConfig.new("#{file}: #{Failure.name_of(e)}: #{e.message}",
                                { 'stack' => Failure.stack_of(e, hide_runner: false) })
      { 'file' => file, 'error' => error.to_error }
    end

    def forget(file)
      @steps = @steps.reject { |f, _| f == file }
    end

    def shutdown(id)
      @shutting_down = true
      @mutex.synchronize { @shutdown_ids << id }
      shutdown_when_idle
    end

    # Answers the shutdown requests once no invocation is in flight (each has been answered).
    def shutdown_when_idle
      ids = @mutex.synchronize { @inflight.empty? ? @shutdown_ids.slice!(0..) : [] }
      ids.each { |id| @endpoint.respond(id, nil) }
    end

    # A fiber (thread) per check: canAccess is user code and may wait (a database lookup, say).
    def can_access(id, params)
      steps = @steps
      @tasks.spawn('motia-can-access') do
        @endpoint.respond(id, Access.check(steps, params))
      rescue RpcError => e
        @endpoint.send_error(id, e)
      rescue SignalException => e
        raise if @tasks.signals_reach_handlers?

        @endpoint.send_error(id, Failure.internal_error(e))
      rescue StandardError => e # a bug of ours
        @endpoint.send_error(id, Failure.internal_error(e))
      end
    end

    # --- invocations --------------------------------------------------------------------------

    def invoke(id, params)
      raise ShuttingDown, 'motia-ruby-runner is shutting down and takes no new invocations' if @shutting_down

      p = object('step.invoke', params)
      inv_id = p['invocationId']
      file = p['file']
      trigger = p['trigger']
      raise bad('step.invoke', 'invocationId', 'a string', inv_id) unless inv_id.is_a?(String)
      raise bad('step.invoke', 'file', 'a string', file) unless file.is_a?(String)
      unless TRIGGERS.include?(trigger)
        raise InvalidParams, "step.invoke: params.trigger must be api, event or cron, got #{trigger.inspect}"
      end

      trace = p['trace']
      unless trace.is_a?(Hash) && trace['traceId'].is_a?(String) && trace['spanId'].is_a?(String)
        raise InvalidParams, 'step.invoke: params.trace must be an object with string traceId and spanId'
      end

      flows = p['flows'] || []
      raise bad('step.invoke', 'flows', 'an array of strings', flows) unless strings?(flows)

      validate_body = p.fetch('validateBody', false)
      raise bad('step.invoke', 'validateBody', 'true or false', validate_body) unless [true, false].include?(validate_body)

      timeout_ms = p['timeoutMs']
      unless timeout_ms.nil? || (timeout_ms.is_a?(Numeric) && !timeout_ms.negative?)
        raise bad('step.invoke', 'timeoutMs', 'a non-negative number', timeout_ms)
      end

      step = @steps[file]
      if step.nil?
        raise StepNotFound, "no step loaded from #{file.inspect}: send steps.load for it first, or fix the " \
                            'error its load reported'
      end
      if step.handler.nil?
        raise StepNotFound, "#{file.inspect} is loaded but defines no `def handler` " \
                            '(noop steps and streams cannot be invoked)'
      end

      inv = Invocation.new(inv_id, @endpoint, @streams, @tasks)
      @mutex.synchronize { @inflight[id] = inv }
      job = { id: id, step: step, trigger: trigger, input: p['input'], trace_id: trace['traceId'],
              flows: flows, timeout_ms: timeout_ms, validate_body: validate_body, trace: trace }
      @tasks.spawn("motia-invoke #{inv_id}") { perform(inv, job) }
    end

    def perform(inv, job)
      Thread.handle_interrupt(Cancelled => :never) { answer(inv, job) }
    rescue Cancelled
      nil # a stop that arrived after the answer was on its way
    rescue SignalException => e
      raise if @tasks.signals_reach_handlers?

      @endpoint.send_error(job[:id], Failure.internal_error(e))
    rescue Exception => e # rubocop:disable Lint/RescueException -- a bug of ours must still answer
      @endpoint.send_error(job[:id], Failure.internal_error(e))
    ensure
      @deadlines.remove(inv)
      @mutex.synchronize { @inflight.delete(job[:id]) if @inflight[job[:id]].equal?(inv) }
      shutdown_when_idle if @shutting_down
    end

    def answer(inv, job)
      ctx = Context.new(inv, job[:trace_id], job[:flows].freeze, job[:trace])
      @deadlines.add(inv, job[:timeout_ms] / 1000.0) if job[:timeout_ms]
      output, error = run_handler(inv, job, ctx)
      inv.ended = true
      @deadlines.remove(inv)
      error = stopped(inv, job) if inv.stop_reason
      return @endpoint.send_error(job[:id], error) if error

      begin
        result = { 'output' => output ? Json.plain(output, 'the return value') : nil }
      rescue TypeError => e
        error = Failure.handler_error(e, "the handler's return value cannot be sent as JSON")
        return @endpoint.send_error(job[:id], error)
      end
      @endpoint.respond(job[:id], result)
    end

    # [output, nil] or [nil, error]. Waits for ctx calls still in flight either way.
    def run_handler(inv, job, ctx)
      output = nil
      error = nil
      inv.stoppable do
        begin
          output = Execution.run(job[:step], job[:trigger], Json.wrap(job[:input]), ctx,
                                 body_check: job[:validate_body] ? inv : nil)
        rescue Cancelled
          raise
        rescue Exception => e # rubocop:disable Lint/RescueException -- exit, NotImplementedError, ...
          raise if e.is_a?(SignalException) && @tasks.signals_reach_handlers?

          error = Failure.handler_error(e)
        end
        inv.wait_for_calls
      end
      [output, error]
    rescue Cancelled
      [nil, stopped(inv, job)]
    end

    def stopped(inv, job)
      if inv.stop_reason == :timeout
        TimedOut.new("#{File.basename(job[:step].file)} ran past timeoutMs=#{job[:timeout_ms]}")
      else
        RequestCancelled.new('cancelled by the core ($/cancelRequest)')
      end
    end
  end
end
