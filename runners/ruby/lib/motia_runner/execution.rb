# frozen_string_literal: true

module MotiaRunner
  # Motia's call convention for Ruby handlers, and the api middleware onion.
  #
  # api handler(req, ctx), event handler(input, ctx), cron handler(ctx). A handler that takes
  # fewer parameters gets the leading ones (def handler(req) for an api step); a cron handler
  # written as handler(input, ctx) gets (nil, ctx).
  module Execution
    module_function

    def run(step, trigger, input, ctx)
      if trigger == 'cron'
        call(step.handler, step.handler.arity == 2 ? [nil, ctx] : [ctx])
      elsif trigger == 'api' && !step.middleware.empty?
        with_middleware(step, input, ctx)
      else
        call(step.handler, [input, ctx])
      end
    end

    def call(handler, args)
      arity = handler.arity
      handler.call(*(arity >= 0 && arity < args.length ? args.first(arity) : args))
    end

    # First middleware outermost. Each is called (req, ctx, next_fn); next_fn.call takes no
    # arguments and returns the downstream response, which the middleware may change or replace.
    def with_middleware(step, req, ctx)
      chain = step.middleware
      at = lambda do |index|
        if index == chain.length
          call(step.handler, [req, ctx])
        else
          chain[index].call(req, ctx, proc { at.call(index + 1) })
        end
      end
      at.call(0)
    end
  end
end
