# frozen_string_literal: true

require_relative 'error_codes'

# JSON-RPC errors of protocol v1, one class per code.
#
# The runner cannot ask the core for its table, so the table is generated into error_codes.rb
# from the core's (motia_core/protocol/errors.py) by `make schema`, and committed; a test fails
# when it is stale. The classes are made from it below. Step code sees these too:
# a ctx.state / ctx.emit / ctx.streams call that the core refuses raises the matching subclass of
# MotiaRunner::RpcError (a StandardError, so a plain `rescue => e` catches it) with the core's
# message, `code` and `data`.
module MotiaRunner
  class RpcError < StandardError
    CODE = -32_000
    DEFAULT_MESSAGE = 'Server error'

    BY_CODE = {} # code -> class, filled below

    class << self
      # The received error object as an exception of the class matching its code.
      def from_error(error)
        return RpcError.new("malformed error object from the core: #{error.inspect}") unless error.is_a?(Hash)

        code = error['code']
        klass = code.is_a?(Integer) ? BY_CODE[code] : nil
        exc = (klass || RpcError).new(error['message'].to_s, error['data'])
        exc.code = code if klass.nil? && code.is_a?(Integer) # keep the peer's code
        exc
      end
    end

    attr_accessor :code
    attr_reader :data

    def initialize(message = nil, data = nil)
      message = self.class::DEFAULT_MESSAGE if message.nil? || message.empty?
      super(message)
      @data = data
      @code = self.class::CODE
    end

    # The wire form: {"code", "message", "data"?}.
    def to_error
      error = { 'code' => code, 'message' => message }
      error['data'] = data unless data.nil?
      error
    end
  end

  ERROR_CODES.each do |name, (code, text)|
    klass = Class.new(RpcError)
    klass.const_set(:CODE, code)
    klass.const_set(:DEFAULT_MESSAGE, text)
    const_set(name, klass)
    RpcError::BY_CODE[code] = klass
  end

  # Raised inside a handler's thread when the core cancels the invocation or its timeoutMs passes.
  # An Exception, not a StandardError: a handler's `rescue => e` must not swallow it by accident,
  # while `ensure` blocks (and an explicit `rescue MotiaRunner::Cancelled`) still run.
  class Cancelled < Exception # rubocop:disable Lint/InheritException
    attr_reader :reason

    def initialize(reason)
      @reason = reason
      super(reason == :timeout ? 'the invocation ran past its timeoutMs' : 'cancelled by the core')
    end
  end
end

module MotiaRunner
  # How a Ruby exception is shown to the core: a clean class name and a backtrace of the user's
  # frames only (the runner's own frames say nothing about the step's bug).
  module Failure
    RUNNER_DIR = "#{File.expand_path('../..', __dir__)}/"
    ANONYMOUS = /#<(?:Module|Class):0x\h+>::/.freeze
    MAX_CAUSES = 5

    module_function

    # "MyError" for a class defined in a step file (whose module is anonymous), else the name.
    def name_of(exc)
      (exc.class.name || exc.class.inspect).gsub(ANONYMOUS, '')
    end

    # Ruby's own layout ("file:line:in `m': message (Class)", then "\tfrom ..." lines), with the
    # causes after it.
    def stack_of(exc, hide_runner: true, depth: 0)
      frames = exc.backtrace || []
      frames = frames.reject { |line| line.start_with?(RUNNER_DIR, '<internal:') } if hide_runner
      message = exc.message.to_s.strip
      head = "#{message} (#{name_of(exc)})"
      text = frames.empty? ? head : "#{frames[0]}: #{head}"
      frames.drop(1).each { |line| text += "\n\tfrom #{line}" }
      if exc.cause && depth < MAX_CAUSES
        text += "\nCaused by:\n#{stack_of(exc.cause, hide_runner: hide_runner, depth: depth + 1)}"
      end
      text
    end

    # HandlerError with data {name, message, stack}.
    def handler_error(exc, prefix = nil)
      name = name_of(exc)
      message = exc.message.to_s
      text = message.empty? ? name : "#{name}: #{message}"
      HandlerError.new(prefix ? "#{prefix}: #{text}" : text,
                       { 'name' => name, 'message' => message, 'stack' => stack_of(exc) })
    end

    def internal_error(exc)
      InternalError.new("#{name_of(exc)}: #{exc.message}", { 'stack' => stack_of(exc, hide_runner: false) })
    end
  end
end
