# frozen_string_literal: true

require_relative 'event_loop'
require_relative 'invocation'

module MotiaRunner
  # How invocations (and canAccess checks) run, chosen by MOTIA_RUBY_CONCURRENCY:
  #
  # * `fibers` (the default): each is a non-blocking Fiber on the main thread under the event
  #   loop's Fiber scheduler. Waiting (a ctx call, sleep, IO, Queue, Mutex, ...) lets the others
  #   run; CPU-bound handler code holds every other invocation until it waits or returns.
  # * `threads`: each gets a Thread of its own, as before 0.x; slower at concurrency (a thread
  #   start and GVL handoffs per call), but CPU-bound or C-blocking handlers interleave.
  module Tasks
    MODES = %w[fibers threads].freeze

    module_function

    def build(loop, mode = ENV.fetch('MOTIA_RUBY_CONCURRENCY', ''))
      case mode
      when '', 'fibers' then FiberTasks.new(loop)
      when 'threads' then ThreadTasks.new
      else
        raise ArgumentError, "MOTIA_RUBY_CONCURRENCY=#{mode.inspect} is not one of #{MODES.join(', ')}"
      end
    end
  end

  class FiberTasks
    def initialize(loop)
      @loop = loop
      Fiber.set_scheduler(loop)
    end

    def name
      'fibers'
    end

    # Starts the block at once; it runs until it first waits. Called on the loop.
    def spawn(_name, &block)
      Fiber.new(blocking: false, &block).resume
    end

    def current
      Fiber.current
    end

    def interrupt(fiber, exception)
      @loop.interrupt(fiber, exception)
    end

    # A signal (SIGTERM) is raised in whatever runs on the main thread, which may be a handler's
    # fiber: it must end the runner, not the handler.
    def signals_reach_handlers?
      true
    end

    def deadlines
      LoopDeadlines.new(@loop)
    end
  end

  class ThreadTasks
    def name
      'threads'
    end

    def spawn(name, &block)
      thread = Thread.new do
        Thread.current.name = name
        block.call
      end
      thread.report_on_exception = false
      thread
    end

    def current
      Thread.current
    end

    def interrupt(thread, exception)
      thread.raise(exception)
    end

    def signals_reach_handlers?
      false
    end

    def deadlines
      Deadlines.new
    end
  end

  # timeoutMs on the event loop's timers. A handler that never waits cannot be stopped while it
  # runs; one that returns past its deadline is answered TimedOut all the same.
  class LoopDeadlines
    def initialize(loop)
      @loop = loop
      @timers = {}.compare_by_identity
    end

    def add(inv, seconds)
      @timers[inv] = @loop.after(seconds) do
        @timers.delete(inv)
        inv.stop(:timeout)
      end
    end

    def remove(inv)
      timer = @timers.delete(inv) or return
      @loop.cancel(timer)
      inv.stop(:timeout) if @loop.now >= timer.at
    end
  end
end
