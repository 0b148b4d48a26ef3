# frozen_string_literal: true

require_relative 'context'
require_relative 'errors'
require_relative 'json_value'

module MotiaRunner
  # One running step.invoke: its id, its fiber (or thread), the ctx calls in flight, and why it
  # was stopped.
  #
  # Stopping (a $/cancelRequest or the timeoutMs deadline) raises MotiaRunner::Cancelled in the
  # handler's fiber (where it waits) or thread, but only while the handler runs: once it has
  # returned, the answer is being written and must not be torn.
  class Invocation
    attr_reader :id, :stream_names, :stop_reason
    # Set once answered: later calls come from threads the handler left running (PROTOCOL 3.4).
    attr_accessor :ended

    # `tasks`: FiberTasks or ThreadTasks (tasks.rb), which know how to reach the handler.
    def initialize(id, endpoint, stream_names, tasks)
      @id = id
      @endpoint = endpoint
      @stream_names = stream_names
      @tasks = tasks
      @mutex = Mutex.new
      @idle = ConditionVariable.new
      @calls = 0
      @raisable = false
      @stop_reason = nil
      @task = nil
      @ended = false
    end

    # A ctx call: a request to the core on behalf of this invocation; blocks until the answer.
    # The count of calls in flight is kept outside the reach of a Cancelled raised mid-call.
    def call(method, params)
      params['invocationId'] = @id
      Thread.handle_interrupt(Object => :never) do
        @mutex.synchronize { @calls += 1 }
        begin
          Thread.handle_interrupt(Object => :immediate) { Json.wrap(@endpoint.request(method, params)) }
        rescue InvocationNotFound => e
          log('error', e.message, nil) if @ended # said on the step's log too: nobody may join
          raise
        ensure
          @mutex.synchronize do
            @calls -= 1
            @idle.broadcast if @calls.zero?
          end
        end
      end
    end

    # Waits for ctx calls still running in threads the handler started and did not join: the
    # core refuses callbacks of an invocation that has been answered.
    def wait_for_calls
      @mutex.synchronize { @idle.wait(@mutex) until @calls.zero? }
    end

    def log(level, message, fields)
      text = message.is_a?(String) ? message : message.to_s
      params = { 'invocationId' => @id, 'level' => level, 'msg' => text, 'fields' => Fields.of(fields) }
      begin
        @endpoint.notify('log', params)
      rescue MessageTooLarge
        params['msg'] = "#{params['msg'][0, 4096]} [log record over maxMessageBytes; fields dropped]"
        params['fields'] = {}
        @endpoint.notify('log', params)
      end
    end

    # Runs the block as the part of the invocation that may be stopped.
    def stoppable
      Thread.handle_interrupt(Cancelled => :immediate) do
        @mutex.synchronize do
          @task = @tasks.current
          @raisable = true
          raise Cancelled, @stop_reason if @stop_reason
        end
        begin
          yield
        ensure
          @mutex.synchronize { @raisable = false }
        end
      end
    end

    # `reason` is :cancel or :timeout; the first reason wins.
    def stop(reason)
      @mutex.synchronize do
        return unless @stop_reason.nil?

        @stop_reason = reason
        @tasks.interrupt(@task, Cancelled.new(reason)) if @raisable
      end
    end
  end

  # Log fields: a Hash (or a Struct, an OpenStruct: anything with to_h) merged flat; an
  # Exception (alone or as a value) as {name, message, stack}; anything else under "data".
  # Never raises: a log call must not fail a handler.
  module Fields
    module_function

    def of(fields)
      out = case fields
            when nil then {}
            when Exception then { 'error' => exception(fields) }
            when Hash then flat(fields)
            when Array, String, Symbol, Numeric, true, false then { 'data' => fields }
            else fields.respond_to?(:to_h) ? flat(fields.to_h) : { 'data' => fields }
            end
      Json.plain(out, 'log fields')
    rescue TypeError, ArgumentError, SystemStackError
      { 'data' => fields.inspect[0, 4096] }
    end

    def flat(hash)
      hash.to_h { |k, v| [k.to_s, v.is_a?(Exception) ? exception(v) : v] }
    end

    def exception(exc)
      { 'name' => Failure.name_of(exc), 'message' => exc.message, 'stack' => Failure.stack_of(exc) }
    end
  end

  # The one thread that enforces every invocation's timeoutMs: deadlines in order, one wait.
  class Deadlines
    def initialize
      @mutex = Mutex.new
      @changed = ConditionVariable.new
      @entries = [] # [monotonic deadline, invocation], sorted
      @thread = nil
    end

    def add(inv, seconds)
      at = now + seconds
      @mutex.synchronize do
        index = @entries.bsearch_index { |(t, _)| t > at } || @entries.length
        @entries.insert(index, [at, inv])
        @thread ||= Thread.new { watch }.tap { |t| t.report_on_exception = true }
        @changed.signal
      end
    end

    def remove(inv)
      @mutex.synchronize { @entries.reject! { |(_, other)| other.equal?(inv) } }
    end

    private

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def watch
      loop do
        due = @mutex.synchronize do
          if @entries.empty?
            @changed.wait(@mutex)
            next nil
          end
          wait = @entries[0][0] - now
          if wait.positive?
            @changed.wait(@mutex, wait)
            next nil
          end
          @entries.shift[1]
        end
        due&.stop(:timeout)
      end
    end
  end
end
